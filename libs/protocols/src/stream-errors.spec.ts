// An upstream that reports an error mid-stream (__fixtures__/upstream/*-error.sse: OpenAI rate-limited,
// Claude and Gemini overloaded). The relay stops at the error event and writes the transform's fail(), given
// only the gateway's generic upstream_error, as conversation.service.ts does: the client must still get the
// upstream's kind of error, in its style's words, and its stream must end the way its SDK expects (golden
// files __fixtures__/golden/stream-error.*).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UpstreamStreamError, type ClientCodec, type UpstreamCodec, type UpstreamErrorKind } from './codec';
import { anthropicClient, anthropicUpstream } from './anthropic/codec';
import { anthropicErrorKind } from './anthropic/errors';
import { geminiClient, geminiUpstream } from './gemini/codec';
import { geminiErrorKind } from './gemini/errors';
import { openaiClient, openaiUpstream } from './openai/codec';
import { openaiErrorKind } from './openai/errors';
import { responsesClient } from './responses/codec';
import { SseParser } from './sse/sse-parser';
import { PassthroughTransform, TranslatingTransform, type RelayTransform } from './transforms';

const FIX = path.join(__dirname, '__fixtures__');
const UPSTREAMS: Record<string, UpstreamCodec> = { openai: openaiUpstream, anthropic: anthropicUpstream, gemini: geminiUpstream };
const CLIENTS: Record<string, ClientCodec> = { openai: openaiClient, anthropic: anthropicClient, gemini: geminiClient(true), 'gemini-array': geminiClient(false), responses: responsesClient };
const REQ = { model: 'public-model', messages: [], stream: true, stream_usage: true };
const KIND: Record<string, UpstreamErrorKind> = { openai: 'rate_limit', anthropic: 'overloaded', gemini: 'overloaded' };

function golden(name: string, actual: string): void {
  const file = path.join(FIX, 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`golden file ${name} is missing`);
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const normalise = (s: string) => s.replace(/"(created|created_at)":\d+/g, '"$1":0').replace(/\b(resp|msg|fc)_[0-9a-f]{24}\b/g, '$1_X');

/** What the relay does: frames until the upstream's error event, then fail() with the gateway's generic error. */
function relay(transform: RelayTransform, sse: string): { out: string; error: unknown } {
  const parser = new SseParser();
  let out = transform.begin().join('');
  try {
    for (const ev of [...parser.push(sse), ...parser.end()]) out += transform.push(ev).join('');
  } catch (error) {
    out += transform.fail({ code: 'upstream_error', message: `the upstream reported an error mid-stream: ${(error as Error).message}` }).join('');
    return { out, error };
  }
  throw new Error('the transcript has no error event');
}

const lastData = (out: string) => {
  const p = new SseParser();
  const evs = [...p.push(out), ...p.end()];
  return evs.map((e) => ({ name: e.event, data: JSON.parse(e.data) as Record<string, any> }));
};

/** Each style's ending for each kind in the fixtures. */
const ENDINGS: Record<string, (out: string, kind: UpstreamErrorKind) => void> = {
  anthropic: (out, kind) => {
    const last = lastData(out).pop()!;
    expect(last.name).toBe('error');
    expect(last.data).toEqual({ type: 'error', error: { type: { rate_limit: 'rate_limit_error', overloaded: 'overloaded_error' }[kind as string], message: expect.stringContaining('mid-stream') } });
    expect(out).not.toContain('message_stop');
  },
  openai: (out, kind) => {
    const last = lastData(out).pop()!;
    const want = { rate_limit: { type: 'rate_limit_error', code: 'rate_limit_exceeded' }, overloaded: { type: 'service_unavailable_error', code: 'server_is_overloaded' } }[kind as string];
    expect(last.data).toEqual({ error: { ...want, message: expect.stringContaining('mid-stream'), param: null } });
    expect(out).not.toContain('[DONE]'); // a client that skips error chunks still sees an unfinished stream
  },
  gemini: (out, kind) => {
    const want = { rate_limit: { code: 429, status: 'RESOURCE_EXHAUSTED' }, overloaded: { code: 503, status: 'UNAVAILABLE' } }[kind as string];
    expect(lastData(out).pop()!.data).toEqual({ error: { ...want, message: expect.stringContaining('mid-stream') } });
  },
  'gemini-array': (out, kind) => {
    const chunks = JSON.parse(out) as Array<Record<string, any>>;
    expect(chunks[chunks.length - 1].error.code).toBe({ rate_limit: 429, overloaded: 503 }[kind as string]);
  },
  responses: (out, kind) => {
    const evs = lastData(out);
    const code = { rate_limit: 'rate_limit_exceeded', overloaded: 'server_is_overloaded' }[kind as string];
    const [error, failed] = evs.slice(-2);
    expect(error.data).toMatchObject({ type: 'error', code, message: expect.stringContaining('mid-stream') });
    expect(failed.name).toBe('response.failed');
    expect(failed.data.response).toMatchObject({ status: 'failed', error: { code, message: expect.stringContaining('mid-stream') } });
    expect(failed.data.sequence_number).toBe(evs.length - 1);
    expect(out).not.toContain('response.completed');
  },
};

describe('an upstream error mid-stream, every upstream kind to every client style', () => {
  for (const upstream of Object.keys(UPSTREAMS)) {
    for (const [style, client] of Object.entries(CLIENTS)) {
      it(`${upstream} (${KIND[upstream]}) -> ${style}: the error keeps its kind and ends the stream the style's way`, () => {
        const transform = new TranslatingTransform(UPSTREAMS[upstream].streamDecoder(), client.streamEncoder('public-model', REQ));
        const { out, error } = relay(transform, readFileSync(path.join(FIX, 'upstream', `${upstream}-error.sse`), 'utf8'));
        expect(error).toBeInstanceOf(UpstreamStreamError);
        expect((error as UpstreamStreamError).kind).toBe(KIND[upstream]);
        golden(`stream-error.${upstream}.to-${style}.txt`, normalise(out));
        ENDINGS[style](out, KIND[upstream]);
      });
    }
  }

  it('a native Claude stream (passed through) ends with the upstream error type too', () => {
    const transform = new PassthroughTransform(anthropicUpstream.streamDecoder(), anthropicClient.streamEncoder('public-model', REQ));
    const { out } = relay(transform, readFileSync(path.join(FIX, 'upstream', 'anthropic-error.sse'), 'utf8'));
    expect(out).toContain('"type":"text_delta","text":"Partial answ"');
    ENDINGS.anthropic(out, 'overloaded');
  });

  it('a stream that broke without an error event (dropped, cut short) keeps the generic ending', () => {
    const enc = (style: string) => new TranslatingTransform(openaiUpstream.streamDecoder(), CLIENTS[style].streamEncoder('public-model', REQ));
    const fail = (style: string) => lastData(enc(style).fail({ code: 'upstream_error', message: 'the upstream closed the stream before it finished' }).join('')).pop()!.data;
    expect(fail('anthropic')).toEqual({ type: 'error', error: { type: 'api_error', message: expect.any(String) } });
    expect(fail('openai').error).toMatchObject({ type: 'api_error', code: 'upstream_error' });
    expect(fail('gemini').error).toMatchObject({ code: 502, status: 'UNAVAILABLE' });
    expect(fail('responses')).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'server_error' } } });
    // a kind the caller gives wins
    expect(enc('anthropic').fail({ code: 'upstream_error', message: 'x', kind: 'timeout' }).join('')).toContain('"type":"timeout_error"');
  });
});

describe('error kinds read from each style', () => {
  it('Anthropic error types', () => {
    expect(anthropicErrorKind('overloaded_error')).toBe('overloaded');
    expect(anthropicErrorKind('rate_limit_error')).toBe('rate_limit');
    expect(anthropicErrorKind('api_error')).toBe('server');
    expect(anthropicErrorKind('timeout_error')).toBe('timeout');
    expect(anthropicErrorKind('invalid_request_error')).toBe('invalid_request');
    expect(anthropicErrorKind('something_new')).toBe('server');
  });

  it('OpenAI types and codes, and the HTTP status OpenAI-compatible servers put in code', () => {
    expect(openaiErrorKind({ type: 'tokens', code: 'rate_limit_exceeded' })).toBe('rate_limit');
    expect(openaiErrorKind({ type: 'service_unavailable_error', code: 'server_is_overloaded' })).toBe('overloaded');
    expect(openaiErrorKind({ type: 'server_error', code: null })).toBe('server');
    expect(openaiErrorKind({ type: 'insufficient_quota', code: 'insufficient_quota' })).toBe('billing');
    expect(openaiErrorKind({ type: 'invalid_request_error', code: 'context_length_exceeded' })).toBe('invalid_request');
    expect(openaiErrorKind({ code: 429 })).toBe('rate_limit');
    expect(openaiErrorKind({ code: 529 })).toBe('overloaded');
    expect(openaiErrorKind({ code: 502 })).toBe('server');
    expect(openaiErrorKind({})).toBe('server');
  });

  it('Gemini statuses, else codes', () => {
    expect(geminiErrorKind({ code: 503, status: 'UNAVAILABLE' })).toBe('overloaded');
    expect(geminiErrorKind({ code: 429, status: 'RESOURCE_EXHAUSTED' })).toBe('rate_limit');
    expect(geminiErrorKind({ code: 500, status: 'INTERNAL' })).toBe('server');
    expect(geminiErrorKind({ code: 504 })).toBe('timeout');
    expect(geminiErrorKind({})).toBe('server');
  });
});

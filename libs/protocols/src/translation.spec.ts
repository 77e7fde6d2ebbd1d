// Golden-file tests of every translation direction, on recorded upstream transcripts in each provider's
// real shape (__fixtures__/upstream) and client requests (__fixtures__/client). Outputs are compared with
// __fixtures__/golden after ids and timestamps are normalised; UPDATE_GOLDEN=1 rewrites the golden files
// (review the diff before committing it). Beside the golden check, each client output that has a decoder
// is decoded again and must say the same as the upstream did: text, tool calls with whole arguments,
// stop reason and usage.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientCodec, StreamDecoder, UpstreamCodec } from './codec';
import { anthropicClient, anthropicUpstream } from './anthropic/codec';
import { geminiClient, geminiUpstream } from './gemini/codec';
import { IRAccumulator, type IRResponse } from './ir';
import { openaiClient, openaiUpstream } from './openai/codec';
import { responsesClient } from './responses/codec';
import { SseParser } from './sse/sse-parser';

const FIX = path.join(__dirname, '__fixtures__');
const read = (p: string) => readFileSync(path.join(FIX, p), 'utf8');

function golden(name: string, actual: string): void {
  const file = path.join(FIX, 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`golden file ${name} is missing`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

/** ids and clocks differ run to run; everything else must match byte for byte */
function normalise(s: string): string {
  return s
    .replace(/"(created|created_at)":(\s*)\d+/g, '"$1":$20')
    .replace(/\b(resp|msg|fc)_[0-9a-f]{24}\b/g, '$1_X')
    .replace(/chatcmpl-[0-9a-z]+(?=")/g, (m) => (/chatcmpl-(AbC123|Txt1|Nst1)/.test(m) ? m : 'chatcmpl-X'));
}

const UPSTREAMS: Record<string, UpstreamCodec> = { openai: openaiUpstream, anthropic: anthropicUpstream, gemini: geminiUpstream };
const CLIENTS: Record<string, ClientCodec> = {
  openai: openaiClient,
  anthropic: anthropicClient,
  gemini: geminiClient(true),
  'gemini-array': geminiClient(false),
  responses: responsesClient,
};
// *-parallel: several tool calls at once; OpenAI's send every call's header first, then interleave the argument pieces
const STREAMS = ['openai-tool', 'openai-text', 'anthropic-tool', 'gemini-tool', 'openai-parallel', 'anthropic-parallel', 'gemini-parallel'];

function decodeAll(decoder: StreamDecoder, sse: string): { acc: IRAccumulator; completed: boolean } {
  const acc = new IRAccumulator();
  const parser = new SseParser();
  for (const ev of [...parser.push(sse), ...parser.end()]) for (const ir of decoder.push(ev)) acc.push(ir);
  return { acc, completed: decoder.completed() };
}

/** What a translation must keep. Anthropic reports no reasoning-token breakdown, so that count is not compared there. */
function semantic(r: IRResponse, style?: string) {
  return {
    parts: r.parts.filter((p) => p.type !== 'thinking').map((p) => (p.type === 'tool_call' ? { name: p.name, args: JSON.parse(p.arguments || '{}') } : p)),
    stop: r.stop_reason,
    usage: style === 'anthropic' ? { ...r.usage, reasoning_tokens: 0 } : r.usage,
  };
}

const CLIENT_DECODERS: Record<string, () => StreamDecoder> = {
  openai: () => openaiUpstream.streamDecoder(),
  anthropic: () => anthropicUpstream.streamDecoder(),
  gemini: () => geminiUpstream.streamDecoder(),
};

describe('stream translation', () => {
  for (const name of STREAMS) {
    const provider = name.split('-')[0];
    for (const [style, client] of Object.entries(CLIENTS)) {
      it(`${name} (${provider} upstream) -> ${style} client`, () => {
        const req = { model: 'public-model', messages: [], stream: true, stream_usage: true };
        const encoder = client.streamEncoder('public-model', req);
        const parser = new SseParser();
        const decoder = UPSTREAMS[provider].streamDecoder();
        const upstream = new IRAccumulator();
        let out = encoder.begin().join('');
        for (const ev of [...parser.push(read(`upstream/${name}.sse`)), ...parser.end()]) {
          for (const ir of decoder.push(ev)) {
            upstream.push(ir);
            out += encoder.push(ir).join('');
          }
        }
        expect(decoder.completed()).toBe(true);
        out += encoder.end().join('');
        golden(`stream.${name}.to-${style}.txt`, normalise(out));

        if (CLIENT_DECODERS[style]) {
          const back = decodeAll(CLIENT_DECODERS[style](), out);
          expect(back.completed).toBe(true);
          expect(semantic(back.acc.response())).toEqual(semantic(upstream.response(), style));
        }
        if (style === 'gemini-array') expect(() => JSON.parse(out)).not.toThrow();
      });
    }
  }
});

describe('non-stream translation', () => {
  for (const name of ['openai-tool', 'anthropic-tool', 'gemini-tool', 'openai-parallel', 'anthropic-parallel', 'gemini-parallel']) {
    const [provider, kind] = name.split('-');
    for (const [style, client] of Object.entries(CLIENTS)) {
      if (style === 'gemini-array') continue;
      it(`${name} (${provider} response) -> ${style} client`, () => {
        const ir = UPSTREAMS[provider].decodeResponse(JSON.parse(read(`upstream/${name}.json`)));
        const req = { model: 'public-model', messages: [], stream: false };
        const body = client.encodeResponse(ir, 'public-model', req);
        golden(`response.${kind === 'tool' ? provider : name}.to-${style}.json`, normalise(JSON.stringify(body, null, 2)) + '\n');
        if (UPSTREAMS[style]) expect(semantic(UPSTREAMS[style].decodeResponse(body))).toEqual(semantic(ir, style));
      });
    }
  }
});

describe('request translation', () => {
  const requests: Array<[string, ClientCodec, string]> = [
    ['openai-chat', openaiClient, 'openai-chat.json'],
    ['anthropic', anthropicClient, 'anthropic-messages.json'],
    ['gemini', geminiClient(true), 'gemini-generate.json'],
    ['responses', responsesClient, 'responses.json'],
  ];
  for (const [name, client, file] of requests) {
    for (const provider of Object.keys(UPSTREAMS)) {
      it(`${name} request -> ${provider} upstream`, () => {
        const ir = client.decodeRequest(JSON.parse(read(`client/${file}`)), { model: 'any-model', stream: true });
        const body = UPSTREAMS[provider].encodeRequest(ir, 'upstream-model');
        golden(`request.${name}.to-${provider}.json`, JSON.stringify(body, null, 2) + '\n');
        // and back: the upstream's request read as a client request says the same thing
        const readBack = { openai: openaiClient, anthropic: anthropicClient, gemini: geminiClient(true) }[provider]!.decodeRequest(body, { model: 'upstream-model', stream: true });
        const shape = (r: typeof ir) => ({
          system: r.system,
          tools: r.tools?.map((t) => t.name),
          max_tokens: r.max_tokens,
          turns: r.messages.map((m) => `${m.role}:${m.parts.map((p) => p.type).join(',')}`),
          toolResults: r.messages.flatMap((m) => m.parts.filter((p) => p.type === 'tool_result').map((p) => (p as { content: string }).content)),
        });
        expect(shape(readBack)).toEqual(shape(ir));
      });
    }
  }
});

// Images and documents (in turns and inside tool results) and the sampling and tool controls of issue 10,
// from each style to each upstream. Read back, the upstream's request carries every image and document the
// client sent: an OpenAI chat upstream takes a tool's images in the user message after the tool messages,
// and a plain-text document as the text it is.
describe('request translation: documents, tool-result images, sampling and tool controls', () => {
  const requests: Array<[string, ClientCodec, string]> = [
    ['openai-chat-media', openaiClient, 'openai-chat-media.json'],
    ['anthropic-media', anthropicClient, 'anthropic-media.json'],
    ['gemini-media', geminiClient(true), 'gemini-media.json'],
  ];
  const media = (r: ReturnType<ClientCodec['decodeRequest']>) =>
    r.messages
      .flatMap((m) => m.parts.flatMap((p) => (p.type === 'tool_result' ? (p.media ?? []) : [p])))
      .filter((p) => p.type === 'image' || p.type === 'document')
      .map((p) => (p.type === 'image' ? `image:${p.data ?? p.url}` : `document:${p.mime_type}:${p.data ?? p.text ?? p.url}`));
  for (const [name, client, file] of requests) {
    for (const provider of Object.keys(UPSTREAMS)) {
      it(`${name} request -> ${provider} upstream`, () => {
        const ir = client.decodeRequest(JSON.parse(read(`client/${file}`)), { model: 'any-model', stream: true });
        const body = UPSTREAMS[provider].encodeRequest(ir, 'upstream-model');
        golden(`request.${name}.to-${provider}.json`, JSON.stringify(body, null, 2) + '\n');
        const readBack = { openai: openaiClient, anthropic: anthropicClient, gemini: geminiClient(true) }[provider]!.decodeRequest(body, { model: 'upstream-model', stream: true });
        const plain = (m: string) => provider !== 'openai' || !m.startsWith('document:text/');
        expect(media(readBack)).toEqual(media(ir).filter(plain));
        for (const m of media(ir).filter((x) => !plain(x))) expect(JSON.stringify(body)).toContain(JSON.stringify(m.split(':').slice(2).join(':')).slice(1, -1));
        expect(media(ir).length).toBeGreaterThanOrEqual(2);
        expect(readBack.messages.flatMap((m) => m.parts).filter((p) => p.type === 'tool_result')).toHaveLength(1);
      });
    }
  }
});

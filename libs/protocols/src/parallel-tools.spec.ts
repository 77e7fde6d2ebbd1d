// Parallel tool calls in every direction. Each upstream transcript (__fixtures__/upstream/*-parallel.*) is
// translated for each client style, and the client's output is read the way that style's SDK reads it,
// checking its event grammar on the way (Anthropic: one block at a time, indexes in order; Responses: every
// delta names an open item; OpenAI: call indexes from 0, id and name first). Every call must come out whole:
// its arguments parse to the very object the upstream meant. The byte-exact outputs are the golden files of
// translation.spec.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientCodec, UpstreamCodec } from './codec';
import { anthropicClient, anthropicUpstream } from './anthropic/codec';
import { AnthropicStreamEncoder } from './anthropic/stream';
import { geminiClient, geminiUpstream } from './gemini/codec';
import type { IREvent, IRRequest } from './ir';
import { openaiClient, openaiUpstream } from './openai/codec';
import { OpenAIChatStreamDecoder } from './openai/stream';
import { responsesClient } from './responses/codec';
import { ResponsesStreamEncoder } from './responses/stream';
import { SseParser, type SseEvent } from './sse/sse-parser';

const FIX = path.join(__dirname, '__fixtures__', 'upstream');
const UPSTREAMS: Record<string, UpstreamCodec> = { openai: openaiUpstream, anthropic: anthropicUpstream, gemini: geminiUpstream };
const CLIENTS: Record<string, ClientCodec> = { openai: openaiClient, anthropic: anthropicClient, gemini: geminiClient(true), 'gemini-array': geminiClient(false), responses: responsesClient };
const REQ: IRRequest = { model: 'public-model', messages: [], stream: true, stream_usage: true };

interface Call {
  name: string;
  args: unknown;
}

const weather = { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } };
const docs = { name: 'search_docs', args: { query: 'parallel "tool" calls', filters: { lang: ['en', 'fr'], limit: 3 } } };
/** what each transcript's calls are, whatever the style */
const EXPECTED: Record<string, Call[]> = {
  openai: [weather, { name: 'get_time', args: { timezone: 'Asia/Tokyo' } }, docs],
  anthropic: [weather, { name: 'list_files', args: {} }, docs],
  gemini: [weather, { name: 'get_time', args: { timezone: 'Asia/Tokyo' } }, docs],
};

function events(text: string): SseEvent[] {
  const p = new SseParser();
  return [...p.push(text), ...p.end()];
}

function translate(upstream: string, client: ClientCodec, sse: string): string {
  const decoder = UPSTREAMS[upstream].streamDecoder();
  const encoder = client.streamEncoder('public-model', REQ);
  let out = encoder.begin().join('');
  for (const ev of events(sse)) for (const ir of decoder.push(ev)) out += encoder.push(ir).join('');
  expect(decoder.completed()).toBe(true);
  return out + encoder.end().join('');
}

function encode(encoder: { begin(): string[]; push(ev: IREvent): string[]; end(): string[] }, irs: IREvent[]): string {
  return [...encoder.begin(), ...irs.flatMap((ev) => encoder.push(ev)), ...encoder.end()].join('');
}

/** Anthropic's grammar: message_start, blocks strictly one after another with indexes 0, 1, 2…, message_delta, message_stop. */
function readAnthropic(out: string): { calls: Call[]; text: string; stop: string } {
  const evs = events(out).map((e) => ({ name: e.event, data: JSON.parse(e.data) as Record<string, any> }));
  for (const e of evs) expect(e.name).toBe(e.data.type);
  expect(evs[0].name).toBe('message_start');
  expect(evs.map((e) => e.name).slice(-2)).toEqual(['message_delta', 'message_stop']);
  const calls: Call[] = [];
  let text = '';
  let open: { index: number; type: string; name?: string; json: string } | null = null;
  let next = 0;
  for (const { name, data } of evs) {
    if (name === 'content_block_start') {
      expect(open).toBeNull();
      expect(data.index).toBe(next++);
      open = { index: data.index, type: data.content_block.type, name: data.content_block.name, json: '' };
    } else if (name === 'content_block_delta') {
      expect(data.index).toBe(open?.index);
      const want = { tool_use: 'input_json_delta', text: 'text_delta', thinking: 'thinking_delta' }[open!.type];
      expect(data.delta.type).toBe(want);
      if (open!.type === 'tool_use') open!.json += data.delta.partial_json;
      if (open!.type === 'text') text += data.delta.text;
    } else if (name === 'content_block_stop') {
      expect(data.index).toBe(open?.index);
      if (open!.type === 'tool_use') calls.push({ name: open!.name!, args: JSON.parse(open!.json || '{}') });
      open = null;
    }
  }
  expect(open).toBeNull();
  return { calls, text, stop: evs[evs.length - 2].data.delta.stop_reason };
}

/** OpenAI's grammar: chunks, then [DONE]; a call's first delta brings its id, type and name, indexes count from 0. */
function readOpenAI(out: string): { calls: Call[]; text: string; stop: string | null } {
  const evs = events(out);
  expect(evs[evs.length - 1].data).toBe('[DONE]');
  const calls: Array<{ name: string; json: string }> = [];
  let text = '';
  let stop: string | null = null;
  for (const ev of evs.slice(0, -1)) {
    const chunk = JSON.parse(ev.data) as Record<string, any>;
    expect(chunk.object).toBe('chat.completion.chunk');
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      for (const tc of choice.delta.tool_calls ?? []) {
        if (!calls[tc.index]) {
          expect(tc.index).toBe(calls.length);
          expect(tc).toMatchObject({ id: expect.any(String), type: 'function', function: { name: expect.any(String) } });
          calls[tc.index] = { name: tc.function.name, json: '' };
        } else {
          expect(tc.id).toBeUndefined();
        }
        calls[tc.index].json += tc.function.arguments ?? '';
      }
      if (choice.finish_reason) {
        expect(stop).toBeNull();
        stop = choice.finish_reason;
      }
    }
  }
  return { calls: calls.map((c) => ({ name: c.name, args: JSON.parse(c.json) })), text, stop };
}

/**
 * The Responses grammar: sequence numbers 0, 1, 2…; output_item.added in output order; every delta names an
 * item that was added and is not done, by its output_index and item_id; each done repeats what the deltas
 * built; response.completed (or .incomplete) last, its output agreeing.
 */
function readResponses(out: string): { calls: Call[]; text: string; status: string } {
  const evs = events(out).map((e) => ({ name: e.event, data: JSON.parse(e.data) as Record<string, any> }));
  evs.forEach((e, i) => {
    expect(e.name).toBe(e.data.type);
    expect(e.data.sequence_number).toBe(i);
  });
  expect(evs.slice(0, 2).map((e) => e.name)).toEqual(['response.created', 'response.in_progress']);
  const items: Array<{ id: string; type: string; name?: string; built: string; done: boolean }> = [];
  const openItem = (d: Record<string, any>) => {
    const item = items[d.output_index];
    expect(item).toBeDefined();
    expect(item.done).toBe(false);
    if ('item_id' in d) expect(d.item_id).toBe(item.id);
    return item;
  };
  for (const { name, data } of evs.slice(2, -1)) {
    switch (name) {
      case 'response.output_item.added':
        expect(data.output_index).toBe(items.length);
        items.push({ id: data.item.id, type: data.item.type, name: data.item.name, built: '', done: false });
        break;
      case 'response.function_call_arguments.delta':
        openItem(data).built += data.delta;
        break;
      case 'response.function_call_arguments.done':
        expect(data.arguments).toBe(openItem(data).built);
        break;
      case 'response.output_text.delta':
        openItem(data).built += data.delta;
        break;
      case 'response.output_item.done': {
        const item = openItem(data);
        expect(data.item.id).toBe(item.id);
        if (item.type === 'function_call') expect(data.item.arguments).toBe(item.built);
        item.done = true;
        break;
      }
    }
  }
  expect(items.every((i) => i.done)).toBe(true);
  const last = evs[evs.length - 1];
  expect(['response.completed', 'response.incomplete']).toContain(last.name);
  const output = last.data.response.output as Array<Record<string, any>>;
  expect(output.map((o) => o.id)).toEqual(items.map((i) => i.id));
  const calls = output.filter((o) => o.type === 'function_call').map((o) => ({ name: o.name as string, args: JSON.parse(o.arguments as string) as unknown }));
  const text = items.filter((i) => i.type === 'message').map((i) => i.built).join('');
  return { calls, text, status: last.data.response.status };
}

/** Gemini's: chunks (SSE or one JSON array), function calls whole with their args as objects, the finish on the last. */
function readGemini(out: string, sse: boolean): { calls: Call[]; text: string; finish: string } {
  const chunks = (sse ? events(out).map((e) => JSON.parse(e.data)) : JSON.parse(out)) as Array<Record<string, any>>;
  const parts = chunks.flatMap((c) => c.candidates[0].content.parts as Array<Record<string, any>>);
  const calls = parts.filter((p) => p.functionCall).map((p) => ({ name: p.functionCall.name as string, args: p.functionCall.args as unknown }));
  for (const c of calls) expect(typeof c.args).toBe('object');
  const text = parts.map((p) => (p.functionCall || p.thought ? '' : (p.text ?? ''))).join('');
  return { calls, text, finish: chunks[chunks.length - 1].candidates[0].finishReason };
}

function read(style: string, out: string): { calls: Call[]; text: string } {
  switch (style) {
    case 'anthropic':
      return readAnthropic(out);
    case 'openai':
      return readOpenAI(out);
    case 'responses':
      return readResponses(out);
    default:
      return readGemini(out, style === 'gemini');
  }
}

describe('parallel tool calls, streamed, every upstream kind to every client style', () => {
  for (const upstream of Object.keys(UPSTREAMS)) {
    for (const [style, client] of Object.entries(CLIENTS)) {
      it(`${upstream} upstream -> ${style} client: every call whole, in the client's own grammar`, () => {
        const out = translate(upstream, client, readFileSync(path.join(FIX, `${upstream}-parallel.sse`), 'utf8'));
        const { calls, text } = read(style, out);
        expect(calls).toEqual(EXPECTED[upstream]);
        expect(text.length).toBeGreaterThan(0);
      });
    }
  }
});

describe('parallel tool calls, not streamed', () => {
  const readBody: Record<string, (b: any) => Call[]> = {
    openai: (b) => b.choices[0].message.tool_calls.map((c: any) => ({ name: c.function.name, args: JSON.parse(c.function.arguments) })),
    anthropic: (b) => b.content.filter((c: any) => c.type === 'tool_use').map((c: any) => ({ name: c.name, args: c.input })),
    gemini: (b) => b.candidates[0].content.parts.filter((p: any) => p.functionCall).map((p: any) => ({ name: p.functionCall.name, args: p.functionCall.args })),
    responses: (b) => b.output.filter((o: any) => o.type === 'function_call').map((o: any) => ({ name: o.name, args: JSON.parse(o.arguments) })),
  };
  for (const upstream of Object.keys(UPSTREAMS)) {
    for (const style of Object.keys(readBody)) {
      it(`${upstream} response -> ${style} client keeps every call`, () => {
        const ir = UPSTREAMS[upstream].decodeResponse(JSON.parse(readFileSync(path.join(FIX, `${upstream}-parallel.json`), 'utf8')));
        const body = CLIENTS[style].encodeResponse(ir, 'public-model', { ...REQ, stream: false });
        expect(readBody[style](body)).toEqual(EXPECTED[upstream]);
      });
    }
  }
});

describe('the Anthropic encoder, one block at a time', () => {
  const start = (index: number, name: string): IREvent => ({ type: 'tool_call_start', index, id: `call_${index}`, name });
  const args = (index: number, delta: string): IREvent => ({ type: 'tool_call_args', index, delta });
  const head: IREvent[] = [{ type: 'start', id: 'msg_1', model: 'm' }];
  const tail: IREvent[] = [{ type: 'finish', stop_reason: 'tool_calls' }];

  it('text that arrives while a call is still taking arguments waits for it, then follows it', () => {
    const out = encode(new AnthropicStreamEncoder('m'), [...head, start(0, 'a'), args(0, '{"x":'), { type: 'text', text: 'between ' }, { type: 'text', text: 'calls' }, args(0, '1}'), ...tail]);
    const r = readAnthropic(out);
    expect(r.calls).toEqual([{ name: 'a', args: { x: 1 } }]);
    expect(r.text).toBe('between calls');
    // the call's block (index 0) closed before the text's (index 1) opened, the text sent in one delta
    expect(out.indexOf('"content_block_stop","index":0')).toBeLessThan(out.indexOf('"content_block_start","index":1'));
    expect(out.match(/text_delta/g)).toHaveLength(1);
  });

  it('the open call streams live; a call queued behind it gets its gathered pieces when it opens', () => {
    const enc = new AnthropicStreamEncoder('m');
    enc.push(head[0]);
    expect(enc.push(start(0, 'a')).join('')).toContain('content_block_start');
    expect(enc.push(start(1, 'b'))).toEqual([]);
    expect(enc.push(args(1, '{"y":2}'))).toEqual([]);
    expect(enc.push(args(0, '{"x":')).join('')).toContain('"partial_json":"{\\"x\\":"');
    // call 0 whole: its block closes, call 1 opens with what it gathered
    const drained = enc.push(args(0, '1}')).join('');
    expect(drained.match(/"type":"content_block_(start|stop)","index":\d/g)).toEqual(['"type":"content_block_stop","index":0', '"type":"content_block_start","index":1']);
    expect(drained).toContain('"partial_json":"{\\"y\\":2}"');
  });

  it('arguments that never become whole (cut by the bound) still go out, closed at the end', () => {
    const out = encode(new AnthropicStreamEncoder('m'), [...head, start(0, 'a'), start(1, 'b'), args(1, '{"y":2}'), args(0, '{"x":"cu'), { type: 'finish', stop_reason: 'length' }]);
    expect(out).toContain('"partial_json":"{\\"x\\":\\"cu"');
    const blocks = out.match(/"type":"content_block_(start|stop)","index":\d/g);
    expect(blocks).toEqual(['"type":"content_block_start","index":0', '"type":"content_block_stop","index":0', '"type":"content_block_start","index":1', '"type":"content_block_stop","index":1']);
    expect(out).toContain('"partial_json":"{\\"y\\":2}"');
    expect(out).toContain('"stop_reason":"max_tokens"');
  });

  it('the old encoder lost these: a call whose pieces came while another block was open', () => {
    // the bug of issue 10: only the open call's pieces were kept, the others reached the client as input {}
    const out = encode(new AnthropicStreamEncoder('m'), [...head, start(0, 'a'), start(1, 'b'), start(2, 'c'), args(2, '{"z":3}'), args(1, '{"y":2}'), args(0, '{"x":1}'), ...tail]);
    expect(readAnthropic(out).calls).toEqual([
      { name: 'a', args: { x: 1 } },
      { name: 'b', args: { y: 2 } },
      { name: 'c', args: { z: 3 } },
    ]);
  });
});

describe('the Responses encoder, items open together', () => {
  it('gives each call its own item and routes each piece by item_id, whatever the interleaving', () => {
    const irs: IREvent[] = [
      { type: 'start', id: 'r', model: 'm' },
      { type: 'tool_call_start', index: 0, id: 'c0', name: 'a' },
      { type: 'tool_call_start', index: 1, id: 'c1', name: 'b' },
      { type: 'tool_call_args', index: 1, delta: '{"y":' },
      { type: 'tool_call_args', index: 0, delta: '{"x":1}' },
      { type: 'text', text: 'and some text' },
      { type: 'tool_call_args', index: 1, delta: '2}' },
      { type: 'finish', stop_reason: 'tool_calls' },
    ];
    const r = readResponses(encode(new ResponsesStreamEncoder('m', REQ), irs));
    expect(r.calls).toEqual([
      { name: 'a', args: { x: 1 } },
      { name: 'b', args: { y: 2 } },
    ]);
    expect(r.text).toBe('and some text');
    expect(r.status).toBe('completed');
  });
});

describe('the OpenAI decoder, calls told apart', () => {
  const chunk = (toolCalls: unknown[]): SseEvent => ({ data: JSON.stringify({ id: 'x', model: 'm', choices: [{ index: 0, delta: { tool_calls: toolCalls } }] }) });
  const decode = (evs: SseEvent[]) => {
    const d = new OpenAIChatStreamDecoder();
    return evs.flatMap((e) => d.push(e)).filter((e) => e.type !== 'start');
  };

  it('by index, pieces interleaved', () => {
    const irs = decode([
      chunk([{ index: 0, id: 'a', function: { name: 'f', arguments: '' } }, { index: 1, id: 'b', function: { name: 'g', arguments: '' } }]),
      chunk([{ index: 1, function: { arguments: '{"y"' } }, { index: 0, function: { arguments: '{"x":1}' } }]),
      chunk([{ index: 1, function: { arguments: ':2}' } }]),
    ]);
    expect(irs).toEqual([
      { type: 'tool_call_start', index: 0, id: 'a', name: 'f' },
      { type: 'tool_call_start', index: 1, id: 'b', name: 'g' },
      { type: 'tool_call_args', index: 1, delta: '{"y"' },
      { type: 'tool_call_args', index: 0, delta: '{"x":1}' },
      { type: 'tool_call_args', index: 1, delta: ':2}' },
    ]);
  });

  it('by id when a compatible server numbers every call 0, and by position when it leaves index out', () => {
    const irs = decode([
      chunk([{ index: 0, id: 'a', function: { name: 'f', arguments: '{"x":1}' } }]),
      chunk([{ index: 0, id: 'b', function: { name: 'g', arguments: '{"y"' } }]),
      chunk([{ index: 0, id: 'b', function: { arguments: ':2}' } }]),
      chunk([{ id: 'c', function: { name: 'h', arguments: '{}' } }, { id: 'd', function: { name: 'k', arguments: '{}' } }]),
    ]);
    expect(irs.filter((e) => e.type === 'tool_call_start').map((e) => [(e as { index: number }).index, (e as { id: string }).id])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ]);
    expect(irs.filter((e) => e.type === 'tool_call_args' && e.index === 1).map((e) => (e as { delta: string }).delta).join('')).toBe('{"y":2}');
  });
});

describe('tool arguments cut by the output bound', () => {
  const cut = { name: 'write_file', raw: '{"path":"notes.txt","content":"The quick brown' };

  it('a Gemini answer (not streamed) carries the call with its raw text and MAX_TOKENS instead of failing', () => {
    const ir = openaiUpstream.decodeResponse(JSON.parse(readFileSync(path.join(FIX, 'openai-truncated.json'), 'utf8')));
    const body = geminiClient(false).encodeResponse(ir, 'public-model', { ...REQ, stream: false }) as Record<string, any>;
    expect(body.candidates[0].finishReason).toBe('MAX_TOKENS');
    expect(body.candidates[0].content.parts).toEqual([{ functionCall: { id: 'call_Cut0', name: cut.name, args: { _raw: cut.raw } } }]);
  });

  for (const upstream of ['openai', 'anthropic']) {
    for (const style of ['gemini', 'gemini-array', 'anthropic', 'openai', 'responses']) {
      it(`streamed from ${upstream} to ${style}: the stream ends in its own grammar with the length stop`, () => {
        const out = translate(upstream, CLIENTS[style], readFileSync(path.join(FIX, `${upstream}-truncated.sse`), 'utf8'));
        if (style.startsWith('gemini')) {
          const r = readGemini(out, style === 'gemini');
          expect(r.finish).toBe('MAX_TOKENS');
          expect(r.calls).toEqual([{ name: cut.name, args: { _raw: expect.stringMatching(/^\{"path":"notes.txt","content":"The quick/) } }]);
        } else if (style === 'anthropic') {
          expect(() => readAnthropic(out)).toThrow(SyntaxError); // the SDK's partial-JSON reader takes it; JSON.parse does not
          expect(out).toContain('"stop_reason":"max_tokens"');
          expect(out).toMatch(/content_block_stop[^\n]*\n\n[^]*message_stop/);
        } else if (style === 'openai') {
          expect(out).toContain('"finish_reason":"length"');
          expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
        } else {
          expect(out).toContain('"type":"response.incomplete"');
          expect(out).toContain('"incomplete_details":{"reason":"max_output_tokens"}');
        }
      });
    }
  }
});

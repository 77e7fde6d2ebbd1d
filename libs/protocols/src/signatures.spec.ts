// Gemini 3's thought signatures through every client style: the signature Gemini put on a function call
// reaches the client in the client's own form, comes back with the next request (the call replayed with
// its result), and goes to Gemini again on the functionCall part, unchanged. Streamed and not.
import type { ClientCodec, StreamDecoder } from './codec';
import { anthropicClient, anthropicUpstream } from './anthropic/codec';
import { geminiClient, geminiUpstream } from './gemini/codec';
import { IRAccumulator, type IRPart, type IRRequest } from './ir';
import { openaiClient, openaiUpstream } from './openai/codec';
import { responsesClient } from './responses/codec';
import { signedToolId, splitToolId } from './signatures';
import { SseParser } from './sse/sse-parser';

/** standard base64 with `+`, `/` and padding: what a client must not rewrite */
const SIG = '+++/LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIEtcRY=';
const MODEL = 'gemini-3-pro-preview';

// parallel calls: only the first carries the signature, as Gemini 3 sends them
const callParts = [
  { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SIG },
  { functionCall: { name: 'get_time', args: { tz: 'CET' } } },
];
const usageMetadata = { promptTokenCount: 30, candidatesTokenCount: 12, totalTokenCount: 42 };
const upstreamBody = {
  candidates: [{ content: { role: 'model', parts: [{ text: 'Checking.' }, ...callParts] }, finishReason: 'STOP', index: 0 }],
  usageMetadata,
  modelVersion: MODEL,
  responseId: 'r1',
};
const upstreamSse = [
  { candidates: [{ content: { role: 'model', parts: [{ text: 'Checking.' }] }, index: 0 }], usageMetadata: { promptTokenCount: 30 }, modelVersion: MODEL, responseId: 'r1' },
  { candidates: [{ content: { role: 'model', parts: callParts }, finishReason: 'STOP', index: 0 }], usageMetadata, modelVersion: MODEL, responseId: 'r1' },
]
  .map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`)
  .join('');

const tools = { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } };
const timeTool = { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } };

function irOf(decoder: StreamDecoder, sse: string) {
  const acc = new IRAccumulator();
  const parser = new SseParser();
  for (const ev of [...parser.push(sse), ...parser.end()]) for (const ir of decoder.push(ev)) acc.push(ir);
  return acc.response();
}

/** What the client received for the call, streamed or not, in the client's own form. */
function answer(client: ClientCodec, stream: boolean): unknown {
  const req: IRRequest = { model: 'public', messages: [], stream, stream_usage: true };
  if (!stream) return client.encodeResponse(geminiUpstream.decodeResponse(upstreamBody), 'public', req);
  const encoder = client.streamEncoder('public', req);
  const decoder = geminiUpstream.streamDecoder();
  const parser = new SseParser();
  let out = encoder.begin().join('');
  for (const ev of [...parser.push(upstreamSse), ...parser.end()]) for (const ir of decoder.push(ev)) out += encoder.push(ir).join('');
  return out + encoder.end().join('');
}

type Call = { id: string; name: string; arguments: string };
const calls = (parts: IRPart[]): Call[] => parts.filter((p): p is Extract<IRPart, { type: 'tool_call' }> => p.type === 'tool_call');

/** Per style: the assistant turn as the client keeps it (what its SDK hands back), and the next request built on it. */
const STYLES: Record<string, { client: ClientCodec; next: (answer: unknown, stream: boolean) => { body: unknown; ids: string[] } }> = {
  openai: {
    client: openaiClient,
    next: (a, stream) => {
      const toolCalls = stream
        ? calls(irOf(openaiUpstream.streamDecoder(), a as string).parts).map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }))
        : ((a as { choices: Array<{ message: { tool_calls: Array<{ id: string; type: string; function: { name: string; arguments: string } }> } }> }).choices[0].message.tool_calls);
      return {
        ids: toolCalls.map((c) => c.id),
        body: {
          model: 'public',
          tools: [{ type: 'function', function: tools }, { type: 'function', function: timeTool }],
          messages: [
            { role: 'user', content: 'Weather and time in Paris?' },
            { role: 'assistant', content: null, tool_calls: toolCalls },
            ...toolCalls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: `${c.function.name} ok` })),
          ],
        },
      };
    },
  },
  anthropic: {
    client: anthropicClient,
    next: (a, stream) => {
      const content = stream
        ? calls(irOf(anthropicUpstream.streamDecoder(), a as string).parts).map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments) as unknown }))
        : (a as { content: Array<{ type: string; id?: string }> }).content.filter((b) => b.type === 'tool_use');
      const ids = content.map((b) => b.id!);
      return {
        ids,
        body: {
          model: 'public',
          max_tokens: 500,
          tools: [
            { name: tools.name, input_schema: tools.parameters },
            { name: timeTool.name, input_schema: timeTool.parameters },
          ],
          messages: [
            { role: 'user', content: 'Weather and time in Paris?' },
            { role: 'assistant', content },
            { role: 'user', content: ids.map((id) => ({ type: 'tool_result', tool_use_id: id, content: 'ok' })) },
          ],
        },
      };
    },
  },
  responses: {
    client: responsesClient,
    next: (a, stream) => {
      let output: Array<{ type: string; call_id?: string }>;
      if (stream) {
        const completed = (a as string)
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => JSON.parse(l.slice(6)) as { type: string; response?: { output: typeof output } })
          .find((e) => e.type === 'response.completed');
        output = completed!.response!.output;
      } else output = (a as { output: typeof output }).output;
      const fcs = output.filter((o) => o.type === 'function_call');
      return {
        ids: fcs.map((o) => o.call_id!),
        body: {
          model: 'public',
          tools: [{ type: 'function', ...tools }, { type: 'function', ...timeTool }],
          input: [{ role: 'user', content: 'Weather and time in Paris?' }, ...output, ...fcs.map((o) => ({ type: 'function_call_output', call_id: o.call_id, output: 'ok' }))],
        },
      };
    },
  },
  gemini: {
    client: geminiClient(true),
    next: (a, stream) => {
      type Chunk = { candidates: Array<{ content: { parts: Array<Record<string, unknown>> } }> };
      const chunks: Chunk[] = stream
        ? (a as string)
            .split('\r\n\r\n')
            .filter((f) => f.startsWith('data: '))
            .map((f) => JSON.parse(f.slice(6)) as Chunk)
        : [a as Chunk];
      const parts = chunks.flatMap((c) => c.candidates[0].content.parts).filter((p) => p.text !== '');
      const fcs = parts.filter((p) => p.functionCall) as Array<{ functionCall: { id: string; name: string } }>;
      return {
        ids: fcs.map((p) => p.functionCall.id),
        body: {
          contents: [
            { role: 'user', parts: [{ text: 'Weather and time in Paris?' }] },
            { role: 'model', parts },
            { role: 'user', parts: fcs.map((p) => ({ functionResponse: { name: p.functionCall.name, response: { result: 'ok' } } })) },
          ],
          tools: [{ functionDeclarations: [tools, timeTool] }],
        },
      };
    },
  },
};

describe('the tool call id scheme', () => {
  it('carries a base64 signature as base64url inside the id and gives it back exactly', () => {
    const id = signedToolId('call_0_get_weather', SIG);
    expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(id.startsWith('call_0_get_weather__tsb_')).toBe(true);
    expect(splitToolId(id)).toEqual({ id: 'call_0_get_weather', signature: SIG });
    for (const sig of ['QUJD', 'QUI=', 'QQ==', '']) expect(splitToolId(signedToolId('x', sig))).toEqual(sig ? { id: 'x', signature: sig } : { id: 'x' });
  });

  it('carries any other signature as base64url of its bytes', () => {
    const odd = 'not base64: ünïcode/+_-';
    const id = signedToolId('toolu_01', odd);
    expect(id).toMatch(/^toolu_01__tsu_[a-zA-Z0-9_-]+$/);
    expect(splitToolId(id)).toEqual({ id: 'toolu_01', signature: odd });
  });

  it('leaves ids without a signature alone, underscores and dashes included', () => {
    expect(signedToolId('call_abc', undefined)).toBe('call_abc');
    expect(splitToolId('call_0_get_weather-now')).toEqual({ id: 'call_0_get_weather-now' });
    expect(splitToolId('toolu_01A09q90qw90lq917835lq9')).toEqual({ id: 'toolu_01A09q90qw90lq917835lq9' });
  });
});

describe('Gemini 3 thought signatures through every client style', () => {
  it('the Gemini decoders keep the signature on the first call only', () => {
    for (const parts of [geminiUpstream.decodeResponse(upstreamBody).parts, irOf(geminiUpstream.streamDecoder(), upstreamSse).parts]) {
      expect(calls(parts).map((c) => (c as { signature?: string }).signature)).toEqual([SIG, undefined]);
    }
  });

  for (const [style, { client, next }] of Object.entries(STYLES)) {
    for (const stream of [false, true]) {
      it(`${style} client${stream ? ', streamed' : ''}: the signature comes back and goes to Gemini on its functionCall part`, () => {
        const { body, ids } = next(answer(client, stream), stream);
        expect(ids).toHaveLength(2);
        if (style === 'anthropic') for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
        if (style === 'gemini') expect(ids.every((id) => !id.includes('__ts'))).toBe(true);
        else expect([ids[0].includes('__tsb_'), ids[1].includes('__ts')]).toEqual([true, false]);

        const ir = client.decodeRequest(body, { model: 'public', stream: false });
        const assistant = ir.messages.find((m) => m.role === 'assistant')!;
        const irCalls = calls(assistant.parts) as Array<Call & { signature?: string }>;
        expect(irCalls.map((c) => [c.name, c.signature])).toEqual([
          ['get_weather', SIG],
          ['get_time', undefined],
        ]);
        // ids are the calls' own, without the signature, and the results still name them
        const results = ir.messages.flatMap((m) => m.parts.filter((p) => p.type === 'tool_result')) as Array<{ tool_call_id: string }>;
        expect(results.map((r) => r.tool_call_id)).toEqual(irCalls.map((c) => c.id));
        for (const c of irCalls) expect(c.id).not.toContain('__ts');

        const upstream = geminiUpstream.encodeRequest(ir, MODEL) as { contents: Array<{ role: string; parts: Array<Record<string, unknown>> }> };
        const model = upstream.contents.find((c) => c.role === 'model')!;
        expect(model.parts.filter((p) => p.functionCall)).toEqual([
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SIG },
          { functionCall: { name: 'get_time', args: { tz: 'CET' } } },
        ]);
        expect(upstream.contents.at(-1)!.parts.map((p) => (p.functionResponse as { name: string }).name)).toEqual(['get_weather', 'get_time']);
      });
    }
  }

  it('other upstreams get the call ids without the signature', () => {
    const { body } = STYLES.anthropic.next(answer(anthropicClient, false), false);
    const ir = anthropicClient.decodeRequest(body, {});
    const chat = openaiUpstream.encodeRequest(ir, 'gpt-4o') as { messages: Array<{ role: string; tool_calls?: Array<{ id: string }>; tool_call_id?: string }> };
    const ids = [...chat.messages.flatMap((m) => m.tool_calls ?? []).map((c) => c.id), ...chat.messages.flatMap((m) => (m.tool_call_id ? [m.tool_call_id] : []))];
    expect(ids).toEqual(['call_0_get_weather', 'call_1_get_time', 'call_0_get_weather', 'call_1_get_time']);
    const messages = anthropicUpstream.encodeRequest(ir, 'claude') as { messages: Array<{ content: Array<{ type: string; id?: string }> }> };
    expect(messages.messages[1].content.map((b) => b.id)).toEqual(['call_0_get_weather', 'call_1_get_time']);
  });
});

import { anthropicClient, anthropicUpstream } from './anthropic/codec';
import { geminiClient, geminiUpstream } from './gemini/codec';
import { openaiClient, openaiUpstream } from './openai/codec';
import { responsesClient } from './responses/codec';
import type { ClientCodec } from './codec';

// A client's request for its provider's own web search (a hosted or server tool) is carried to whichever
// upstream serves the model, as that upstream's own search tool; the call's other tools stay as they were.
const fn = { name: 'read_file', description: 'Read a file', parameters: { type: 'object', properties: { path: { type: 'string' } } } };
const asked: Array<[string, ClientCodec, unknown, number | undefined]> = [
  ['a Responses web_search tool', responsesClient, { model: 'm', input: 'find it', tools: [{ type: 'function', ...fn }, { type: 'web_search', external_web_access: false }] }, undefined],
  ['an Anthropic web_search server tool', anthropicClient, { model: 'm', max_tokens: 100, messages: [{ role: 'user', content: 'find it' }], tools: [{ name: fn.name, description: fn.description, input_schema: fn.parameters }, { type: 'web_search_20250305', name: 'web_search', max_uses: 3 }] }, 3],
  ['Gemini grounding with Google Search', geminiClient(true), { contents: [{ role: 'user', parts: [{ text: 'find it' }] }], tools: [{ functionDeclarations: [fn] }, { googleSearch: {} }] }, undefined],
  ['OpenAI chat web_search_options', openaiClient, { model: 'm', messages: [{ role: 'user', content: 'find it' }], tools: [{ type: 'function', function: fn }], web_search_options: {} }, undefined],
];

describe.each(asked)('%s', (_what, client, body, maxUses) => {
  const ir = client.decodeRequest(body, { model: 'm' });

  it('becomes a web search in the internal form, beside the function tools', () => {
    expect(ir.web_search).toEqual(maxUses !== undefined ? { max_uses: maxUses } : {});
    expect(ir.tools?.map((t) => t.name)).toEqual(['read_file']);
  });

  it("reaches an Anthropic upstream as its web_search server tool", () => {
    const out = anthropicUpstream.encodeRequest({ ...ir, max_tokens: 100 }, 'claude') as { tools: Array<Record<string, unknown>> };
    expect(out.tools.map((t) => t.name)).toEqual(['read_file', 'web_search']);
    expect(out.tools[1]).toEqual({ type: 'web_search_20250305', name: 'web_search', ...(maxUses !== undefined ? { max_uses: maxUses } : {}) });
  });

  it('reaches a Gemini upstream as googleSearch', () => {
    const out = geminiUpstream.encodeRequest({ ...ir, max_tokens: 100 }, 'gemini') as { tools: Array<Record<string, unknown>> };
    expect(out.tools).toEqual([expect.objectContaining({ functionDeclarations: [expect.objectContaining({ name: 'read_file' })] }), { googleSearch: {} }]);
  });

  it('reaches an OpenAI chat upstream as web_search_options', () => {
    const out = openaiUpstream.encodeRequest({ ...ir, max_tokens: 100 }, 'gpt') as Record<string, unknown>;
    expect(out.web_search_options).toEqual({});
  });
});

it('a request without a search asks no upstream for one', () => {
  const ir = openaiClient.decodeRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { model: 'm' });
  expect(ir.web_search).toBeUndefined();
  expect((anthropicUpstream.encodeRequest({ ...ir, max_tokens: 10 }, 'c') as { tools?: unknown }).tools).toBeUndefined();
  expect((geminiUpstream.encodeRequest({ ...ir, max_tokens: 10 }, 'g') as { tools?: unknown }).tools).toBeUndefined();
  expect((openaiUpstream.encodeRequest({ ...ir, max_tokens: 10 }, 'o') as { web_search_options?: unknown }).web_search_options).toBeUndefined();
});

// Reasoning controls in every direction: each style's own fields decode into the internal form's effort and
// budget, and each upstream gets them in the form it takes (an effort for OpenAI and Gemini 3, a budget for
// Anthropic and Gemini 2.5). Thinking comes back to each client in its own form.
import { anthropicClient, anthropicUpstream } from './anthropic/codec';
import { thinkingWithin } from './anthropic/request';
import { geminiClient, geminiUpstream } from './gemini/codec';
import { InvalidRequestError, UnsupportedFeatureError, type IRMessage, type IRReasoning, type IRRequest, type IRResponse } from './ir';
import { openaiClient, openaiUpstream } from './openai/codec';
import { effortOfBudget, reasoningBudget, reasoningEffort } from './reasoning';
import { responsesClient } from './responses/codec';

const user = (text: string) => ({ role: 'user', content: text });
const chat = (extra: Record<string, unknown>) => openaiClient.decodeRequest({ model: 'm', messages: [user('hi')], ...extra }, {});
const responses = (extra: Record<string, unknown>) => responsesClient.decodeRequest({ model: 'm', input: 'hi', ...extra }, {});
const claude = (extra: Record<string, unknown>) => anthropicClient.decodeRequest({ model: 'm', max_tokens: 32000, messages: [user('hi')], ...extra }, {});
const gemini = (generationConfig: Record<string, unknown>) => geminiClient(true).decodeRequest({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig }, { model: 'm' });

const ir = (reasoning: IRReasoning | undefined, extra: Partial<IRRequest> = {}): IRRequest => ({ model: 'm', messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }], stream: false, reasoning, ...extra });
const toChat = (r: IRReasoning | undefined) => openaiUpstream.encodeRequest(ir(r), 'gpt-5').reasoning_effort;
const toClaude = (r: IRReasoning | undefined, extra: Partial<IRRequest> = {}) => anthropicUpstream.encodeRequest(ir(r, { max_tokens: 32000, ...extra }), 'claude-sonnet-4-5').thinking;
const toGemini = (r: IRReasoning | undefined, model = 'gemini-2.5-flash') => (geminiUpstream.encodeRequest(ir(r), model).generationConfig as { thinkingConfig?: unknown } | undefined)?.thinkingConfig;

describe('reasoning controls, decoded from each style', () => {
  it('OpenAI chat: reasoning_effort is the effort', () => {
    expect(chat({ reasoning_effort: 'minimal' }).reasoning).toEqual({ effort: 'minimal' });
    expect(chat({ reasoning_effort: 'high' }).reasoning).toEqual({ effort: 'high' });
    expect(chat({}).reasoning).toBeUndefined();
    // unknown to the gateway: refused for translation only, so an OpenAI upstream still takes it as it is
    expect(() => chat({ reasoning_effort: 'extreme' })).toThrow(UnsupportedFeatureError);
  });

  it('Responses: reasoning.effort is the effort, a summary asked for shows the thinking', () => {
    expect(responses({ reasoning: { effort: 'low', summary: 'auto' } }).reasoning).toEqual({ effort: 'low', include_thoughts: true });
    expect(responses({ reasoning: { effort: 'medium' } }).reasoning).toEqual({ effort: 'medium' });
    expect(responses({ reasoning: { effort: null, summary: 'detailed' } }).reasoning).toEqual({ include_thoughts: true });
    expect(() => responses({ reasoning: { effort: 'max' } })).toThrow(UnsupportedFeatureError);
  });

  it('Anthropic: thinking gives the budget (or adaptive, or off) and output_config.effort the effort', () => {
    expect(claude({ thinking: { type: 'enabled', budget_tokens: 2048 } }).reasoning).toEqual({ budget_tokens: 2048, include_thoughts: true });
    // what Claude Code sends
    expect(claude({ thinking: { type: 'adaptive' }, output_config: { effort: 'max' } }).reasoning).toEqual({ effort: 'max', include_thoughts: true });
    expect(claude({ thinking: { type: 'enabled', budget_tokens: 31999, display: 'omitted' }, output_config: { effort: 'high' } }).reasoning).toEqual({
      effort: 'high',
      budget_tokens: 31999,
      include_thoughts: false,
    });
    expect(claude({ thinking: { type: 'disabled' } }).reasoning).toEqual({ effort: 'none' });
    expect(claude({ output_config: { effort: 'low' } }).reasoning).toEqual({ effort: 'low' });
    expect(() => claude({ thinking: { type: 'enabled', budget_tokens: 100 } })).toThrow(InvalidRequestError);
    expect(() => claude({ thinking: { type: 'sometimes' } })).toThrow(UnsupportedFeatureError);
    expect(() => claude({ output_config: { effort: 'extreme' } })).toThrow(UnsupportedFeatureError);
    expect(() => claude({ output_config: { verbosity: 'low' } })).toThrow(UnsupportedFeatureError);
  });

  it("Anthropic: output_config.format is JSON mode with the client's schema", () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    expect(claude({ output_config: { format: { type: 'json_schema', schema } } }).response_format).toEqual({ type: 'json_schema', name: 'response', schema });
  });

  it('Gemini: thinkingConfig gives the budget, the level and whether thoughts are shown', () => {
    expect(gemini({ thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } }).reasoning).toEqual({ budget_tokens: 1024, include_thoughts: true });
    expect(gemini({ thinkingConfig: { thinkingBudget: 0 } }).reasoning).toEqual({ budget_tokens: 0 });
    expect(gemini({ thinkingConfig: { thinkingBudget: -1 } }).reasoning).toEqual({ budget_tokens: -1 });
    expect(gemini({ thinkingConfig: { thinkingLevel: 'LOW' } }).reasoning).toEqual({ effort: 'low' });
    expect(gemini({ thinkingConfig: { thinkingLevel: 'high', includeThoughts: false } }).reasoning).toEqual({ effort: 'high', include_thoughts: false });
    expect(() => gemini({ thinkingConfig: { thinkingLevel: 'ultra' } })).toThrow(UnsupportedFeatureError);
  });
});

describe('effort and budget stand for each other', () => {
  it('an effort is a budget: low 1024, medium 8192, high 24576; none 0', () => {
    expect([reasoningBudget({ effort: 'low' }), reasoningBudget({ effort: 'medium' }), reasoningBudget({ effort: 'high' }), reasoningBudget({ effort: 'none' })]).toEqual([1024, 8192, 24576, 0]);
    expect(reasoningBudget({ effort: 'high', budget_tokens: 3000 })).toBe(3000);
    expect(reasoningBudget({ include_thoughts: true })).toBeUndefined();
  });

  it('a budget is an effort by thresholds, and each effort budget maps back to its effort', () => {
    expect([0, 1, 1024, 4095, 4096, 8192, 16383, 16384, 24576, 31999].map(effortOfBudget)).toEqual(['none', 'low', 'low', 'low', 'medium', 'medium', 'medium', 'high', 'high', 'high']);
    expect(effortOfBudget(-1)).toBeUndefined();
    for (const e of ['low', 'medium', 'high'] as const) expect(effortOfBudget(reasoningBudget({ effort: e })!)).toBe(e);
    expect(reasoningEffort({ effort: 'minimal', budget_tokens: 30000 })).toBe('minimal');
  });
});

describe('reasoning controls, encoded for each upstream', () => {
  it('OpenAI: reasoning_effort from the effort or the budget; off and dynamic left unsaid', () => {
    expect(toChat({ effort: 'minimal' })).toBe('minimal');
    expect(toChat({ budget_tokens: 2048 })).toBe('low');
    expect(toChat({ budget_tokens: 31999, effort: 'medium' })).toBe('medium');
    expect(toChat({ budget_tokens: 31999 })).toBe('high');
    expect(toChat({ effort: 'max' })).toBe('high');
    expect(toChat({ effort: 'none' })).toBeUndefined();
    expect(toChat({ budget_tokens: -1 })).toBeUndefined();
    expect(toChat(undefined)).toBeUndefined();
  });

  it('Anthropic: a budget below max_tokens and at least 1024, else no thinking; off is disabled', () => {
    expect(toClaude({ effort: 'low' })).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(toClaude({ effort: 'high' })).toEqual({ type: 'enabled', budget_tokens: 24576 });
    expect(toClaude({ budget_tokens: 5000, effort: 'high' })).toEqual({ type: 'enabled', budget_tokens: 5000 });
    // never as large as the call's max tokens
    expect(toClaude({ effort: 'high' }, { max_tokens: 4096 })).toEqual({ type: 'enabled', budget_tokens: 4095 });
    expect(toClaude({ budget_tokens: 4096 }, { max_tokens: 4096 })).toEqual({ type: 'enabled', budget_tokens: 4095 });
    expect(toClaude({ effort: 'high' }, { max_tokens: 1024 })).toBeUndefined();
    // dynamic: the model decides, within medium's budget
    expect(toClaude({ budget_tokens: -1, include_thoughts: true })).toEqual({ type: 'enabled', budget_tokens: 8192 });
    expect(toClaude({ effort: 'none' })).toEqual({ type: 'disabled' });
    expect(toClaude({ budget_tokens: 0 })).toEqual({ type: 'disabled' });
    expect(toClaude(undefined)).toBeUndefined();
  });

  it('Anthropic: no thinking where it would be refused (forced tool, a tool loop without its thinking), and a temperature it refuses is named', () => {
    const tools = [{ name: 't', parameters: { type: 'object' } }];
    expect(toClaude({ effort: 'low' }, { tools, tool_choice: 'required' })).toBeUndefined();
    expect(toClaude({ effort: 'low' }, { tools, tool_choice: { name: 't' } })).toBeUndefined();
    expect(toClaude({ effort: 'low' }, { tools, tool_choice: 'auto' })).toEqual({ type: 'enabled', budget_tokens: 1024 });

    const loop = (assistant: IRMessage['parts']): Partial<IRRequest> => ({
      tools,
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'go' }] },
        { role: 'assistant', parts: assistant },
        { role: 'user', parts: [{ type: 'tool_result', tool_call_id: 'c1', content: 'ok' }] },
      ],
    });
    const call = { type: 'tool_call' as const, id: 'c1', name: 't', arguments: '{}' };
    expect(toClaude({ effort: 'low' }, loop([call]))).toBeUndefined();
    expect(toClaude({ effort: 'low' }, loop([{ type: 'thinking', text: 'hmm' }, call]))).toBeUndefined();
    expect(toClaude({ effort: 'low' }, loop([{ type: 'thinking', text: 'hmm', signature: 'sig' }, call]))).toEqual({ type: 'enabled', budget_tokens: 1024 });
    // an earlier turn, ended by a new user message, is not part of the loop
    const later = loop([call]);
    later.messages!.push({ role: 'assistant', parts: [{ type: 'text', text: 'done' }] }, { role: 'user', parts: [{ type: 'text', text: 'again' }] });
    expect(toClaude({ effort: 'low' }, later)).toEqual({ type: 'enabled', budget_tokens: 1024 });

    expect(() => toClaude({ effort: 'low' }, { temperature: 0.2 })).toThrow(expect.objectContaining({ param: 'temperature' }));
    expect(() => toClaude({ effort: 'low' }, { top_p: 0.5 })).toThrow(expect.objectContaining({ param: 'top_p' }));
    expect(toClaude({ effort: 'low' }, { temperature: 1 })).toEqual({ type: 'enabled', budget_tokens: 1024 });
    expect(anthropicUpstream.encodeRequest(ir({ effort: 'none' }, { temperature: 0.2 }), 'claude').temperature).toBe(0.2);
  });

  it('Anthropic pass-through: a body whose max_tokens the gateway lowered keeps its budget below it', () => {
    const body = { model: 'c', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 31999 }, messages: [] };
    expect(thinkingWithin(body, 4000)).toEqual({ ...body, thinking: { type: 'enabled', budget_tokens: 3999 } });
    expect(thinkingWithin({ ...body, max_tokens: 1000 }, 1000)).toEqual({ model: 'c', max_tokens: 1000, messages: [] });
    expect(thinkingWithin({ ...body, thinking: { type: 'enabled', budget_tokens: 2000 } }, 4000)).toEqual({ ...body, thinking: { type: 'enabled', budget_tokens: 2000 } });
    expect(thinkingWithin({ ...body, thinking: { type: 'adaptive' } }, 4000).thinking).toEqual({ type: 'adaptive' });
  });

  it('Gemini 2.5: a thinking budget, the client’s own or its effort’s; thoughts shown when asked', () => {
    expect(toGemini({ effort: 'medium' })).toEqual({ thinkingBudget: 8192 });
    expect(toGemini({ effort: 'xhigh' })).toEqual({ thinkingBudget: 24576 });
    expect(toGemini({ effort: 'none' })).toEqual({ thinkingBudget: 0 });
    expect(toGemini({ budget_tokens: 31999, include_thoughts: true }, 'gemini-2.5-pro')).toEqual({ thinkingBudget: 31999, includeThoughts: true });
    // within what the model takes: Flash 24576, Pro 32768
    expect(toGemini({ budget_tokens: 31999 }, 'gemini-2.5-flash')).toEqual({ thinkingBudget: 24576 });
    expect(toGemini({ budget_tokens: 40000 }, 'gemini-2.5-pro')).toEqual({ thinkingBudget: 32768 });
    expect(toGemini({ budget_tokens: -1 })).toEqual({ thinkingBudget: -1 });
    expect(toGemini(undefined)).toBeUndefined();
  });

  it('Gemini 3: a thinking level (Pro: low or high; Flash: minimal to high), never a budget', () => {
    expect(toGemini({ effort: 'low' }, 'gemini-3-pro-preview')).toEqual({ thinkingLevel: 'low' });
    expect(toGemini({ effort: 'medium' }, 'gemini-3-pro-preview')).toEqual({ thinkingLevel: 'high' });
    expect(toGemini({ effort: 'none' }, 'gemini-3-pro-preview')).toEqual({ thinkingLevel: 'low' });
    expect(toGemini({ effort: 'max', include_thoughts: true }, 'gemini-3-pro-preview')).toEqual({ thinkingLevel: 'high', includeThoughts: true });
    expect(toGemini({ effort: 'minimal' }, 'gemini-3-flash-preview')).toEqual({ thinkingLevel: 'minimal' });
    expect(toGemini({ effort: 'medium' }, 'gemini-3-flash-preview')).toEqual({ thinkingLevel: 'medium' });
    expect(toGemini({ budget_tokens: 2000 }, 'gemini-3-pro-preview')).toEqual({ thinkingLevel: 'low' });
    expect(toGemini({ budget_tokens: -1 }, 'gemini-3-pro-preview')).toBeUndefined();
  });

  it('end to end across styles: Claude Code’s thinking to Gemini, Gemini’s level to Claude, a Responses effort to chat', () => {
    const fromClaude = anthropicClient.decodeRequest({ model: 'm', max_tokens: 32000, thinking: { type: 'enabled', budget_tokens: 31999 }, output_config: { effort: 'high' }, messages: [user('hi')] }, {});
    expect((geminiUpstream.encodeRequest(fromClaude, 'gemini-2.5-pro').generationConfig as Record<string, unknown>).thinkingConfig).toEqual({ thinkingBudget: 31999, includeThoughts: true });
    expect((geminiUpstream.encodeRequest(fromClaude, 'gemini-3-pro-preview').generationConfig as Record<string, unknown>).thinkingConfig).toEqual({ thinkingLevel: 'high', includeThoughts: true });
    expect(openaiUpstream.encodeRequest(fromClaude, 'o3').reasoning_effort).toBe('high');

    const fromGemini = gemini({ maxOutputTokens: 2000, thinkingConfig: { thinkingLevel: 'high' } });
    expect(anthropicUpstream.encodeRequest(fromGemini, 'claude').thinking).toEqual({ type: 'enabled', budget_tokens: 1999 });

    const fromResponses = responses({ reasoning: { effort: 'low', summary: 'auto' } });
    expect(openaiUpstream.encodeRequest(fromResponses, 'o4-mini').reasoning_effort).toBe('low');
    expect(anthropicUpstream.encodeRequest({ ...fromResponses, max_tokens: 4096 }, 'claude').thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
  });
});

describe('thinking comes back in the client’s own form', () => {
  const answer: IRResponse = {
    id: 'r1',
    model: 'x',
    parts: [
      { type: 'thinking', text: 'Let me think.' },
      { type: 'text', text: 'Answer.' },
    ],
    stop_reason: 'stop',
    usage: { input_tokens: 5, cached_input_tokens: 0, output_tokens: 9, reasoning_tokens: 4 },
  };
  const req = ir({ effort: 'low', include_thoughts: true });

  it('from a Gemini upstream’s thought parts', () => {
    const parts = geminiUpstream.decodeResponse({ candidates: [{ content: { role: 'model', parts: [{ text: 'Let me think.', thought: true }, { text: 'Answer.' }] }, finishReason: 'STOP' }] }).parts;
    expect(parts).toEqual(answer.parts);
  });

  it('OpenAI chat: reasoning_content; Anthropic: a thinking block; Gemini: a thought part; Responses: a reasoning item with its summary', () => {
    const chatBody = openaiClient.encodeResponse(answer, 'm', req) as { choices: Array<{ message: Record<string, unknown> }> };
    expect(chatBody.choices[0].message).toMatchObject({ content: 'Answer.', reasoning_content: 'Let me think.' });
    const claudeBody = anthropicClient.encodeResponse(answer, 'm', req) as { content: unknown[] };
    expect(claudeBody.content[0]).toMatchObject({ type: 'thinking', thinking: 'Let me think.' });
    const geminiBody = geminiClient(true).encodeResponse(answer, 'm', req) as { candidates: Array<{ content: { parts: unknown[] } }> };
    expect(geminiBody.candidates[0].content.parts).toEqual([{ text: 'Let me think.', thought: true }, { text: 'Answer.' }]);
    const resp = responsesClient.encodeResponse(answer, 'm', req) as { output: Array<Record<string, unknown>>; reasoning: unknown };
    expect(resp.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Let me think.' }] });
    expect(resp.output[1]).toMatchObject({ type: 'message', content: [{ type: 'output_text', text: 'Answer.' }] });
    expect(resp.reasoning).toEqual({ effort: 'low', summary: 'auto' });
  });
});

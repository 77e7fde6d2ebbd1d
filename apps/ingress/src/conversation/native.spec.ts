import { signedToolId } from '@gateway/protocols';
import { NATIVE } from './native';

// A conversation that moves from a Gemini 3 model to another provider passes its call ids through plain.
describe('native bodies: call ids that carry a thought signature', () => {
  const signed = signedToolId('call_1', 'c2lnbmF0dXJlK2FuZC9tb3JlPQ+/c2lnbmF0dXJlK2FuZC9tb3JlPQ==');

  it('an OpenAI chat body gets plain ids on the call and its result', () => {
    const raw = {
      model: 'x',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: null, tool_calls: [{ id: signed, type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: signed, content: 'ok' },
      ],
    };
    const body = NATIVE.openai.body(raw, 'up', false) as typeof raw;
    expect(signed.length).toBeGreaterThan(40);
    expect(body.messages[1].tool_calls![0].id).toBe('call_1');
    expect(body.messages[2].tool_call_id).toBe('call_1');
    expect(raw.messages[1].tool_calls![0].id).toBe(signed); // the client's own body is not changed
  });

  it('an Anthropic body gets plain tool_use and tool_result ids', () => {
    const raw = {
      model: 'x',
      max_tokens: 10,
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: signed, name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: signed, content: 'ok' }] },
      ],
    };
    const body = NATIVE.anthropic.body(raw, 'up', false) as { messages: Array<{ content: Array<{ id?: string; tool_use_id?: string }> }> };
    expect(body.messages[0].content[0].id).toBe('call_1');
    expect(body.messages[1].content[0].tool_use_id).toBe('call_1');
  });

  it('a Responses body gets plain call_ids on function_call and its output', () => {
    const raw = { model: 'x', input: [{ type: 'function_call', call_id: signed, name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: signed, output: 'ok' }] };
    const body = NATIVE.responses.body(raw, 'up', false) as typeof raw;
    expect(body.input.map((i) => i.call_id)).toEqual(['call_1', 'call_1']);
  });

  it('a body without signed ids passes as it is', () => {
    const messages = [{ role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'f', arguments: '{}' } }] }];
    const body = NATIVE.openai.body({ model: 'x', messages }, 'up', false);
    expect(body.messages).toBe(messages);
  });
});

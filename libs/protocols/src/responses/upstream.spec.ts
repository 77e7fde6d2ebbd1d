import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UpstreamStreamError } from '../codec';
import { IRAccumulator } from '../ir';
import { SseParser } from '../sse/sse-parser';
import { ResponsesStreamDecoder, responsesResponseToIR, usageFromResponses } from './upstream';

// The Responses API read as an upstream's format (pass-through on OpenAI channels), on transcripts in its
// shape: a streamed reasoning summary and function call, and a non-streamed answer with a reasoning item.

const read = (name: string) => readFileSync(path.join(__dirname, '..', '__fixtures__', 'upstream', name), 'utf8');

function decode(sse: string) {
  const decoder = new ResponsesStreamDecoder();
  const acc = new IRAccumulator();
  const parser = new SseParser();
  const completedBefore: boolean[] = [];
  for (const ev of [...parser.push(sse), ...parser.end()]) {
    completedBefore.push(decoder.completed());
    for (const ir of decoder.push(ev)) acc.push(ir);
  }
  return { response: acc.response(), completed: decoder.completed(), completedBefore };
}

describe('Responses API as an upstream format', () => {
  it('decodes a stream: the reasoning summary as thinking, the function call, and usage with reasoning and cached tokens', () => {
    const { response, completed, completedBefore } = decode(read('responses-tool.sse'));
    expect(completed).toBe(true);
    // complete only once response.completed has come, the last event
    expect(completedBefore.every((c) => !c)).toBe(true);
    expect(response.parts).toEqual([
      { type: 'thinking', text: 'Considered the request in 32 tokens.' },
      { type: 'tool_call', id: 'call_14cdaa3275b3f7f5f72de498', name: 'get_weather', arguments: '{"city":"Lima"}' },
    ]);
    expect(response.stop_reason).toBe('tool_calls');
    expect(response.usage).toEqual({ input_tokens: 25, cached_input_tokens: 4, output_tokens: 39, reasoning_tokens: 32 });
  });

  it('a stream cut before response.completed is not complete', () => {
    const sse = read('responses-tool.sse');
    expect(decode(sse.slice(0, sse.indexOf('event: response.completed'))).completed).toBe(false);
  });

  it('an error event or response.failed is the upstream failing mid-stream', () => {
    const decoder = new ResponsesStreamDecoder();
    expect(() => decoder.push({ event: 'error', data: JSON.stringify({ type: 'error', code: 'server_error', message: 'overloaded', sequence_number: 3 }) })).toThrow(UpstreamStreamError);
    const failed = { type: 'response.failed', sequence_number: 4, response: { status: 'failed', error: { code: 'server_error', message: 'the model broke' } } };
    expect(() => decoder.push({ event: 'response.failed', data: JSON.stringify(failed) })).toThrow('the model broke');
    expect(decoder.completed()).toBe(false);
  });

  it('reads the event type from the data when the server sends no event line', () => {
    const decoder = new ResponsesStreamDecoder();
    expect(decoder.push({ data: JSON.stringify({ type: 'response.output_text.delta', delta: 'Hi', output_index: 0 }) })).toEqual([{ type: 'text', text: 'Hi' }]);
  });

  it('decodes a non-streamed answer: text, the reasoning tokens inside output_tokens, cached tokens inside input_tokens', () => {
    const ir = responsesResponseToIR(JSON.parse(read('responses-reasoning.json')));
    expect(ir.parts).toEqual([{ type: 'text', text: 'This is a deterministic mock reply to: Hello there' }]);
    expect(ir.stop_reason).toBe('stop');
    expect(ir.usage).toEqual({ input_tokens: 35, cached_input_tokens: 8, output_tokens: 129, reasoning_tokens: 120 });
  });

  it('an incomplete answer stopped at max_output_tokens; no usage is no usage', () => {
    expect(responsesResponseToIR({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [] }).stop_reason).toBe('length');
    expect(usageFromResponses(null)).toBeNull();
    expect(usageFromResponses({ input_tokens: 3 })).toBeNull();
  });
});

import { DomainError, type ModelView } from '@gateway/contracts';
import { callEstimateMicros, clientOutputBound, opaqueInputTexts, outputChoices, scanBody, withOutputBound } from './call-bounds';

// The Responses API's pass-through (issue 10): its bound, and the input an upstream reads that the
// gateway cannot count (a stored conversation, reasoning carried back) in the hold.

const model = (limits: ModelView['limits']): ModelView => ({
  id: 'gpt-r',
  object: 'model',
  kind: 'chat',
  aliases: [],
  fallbacks: [],
  pricing: { input_per_mtok_micros: 1_000_000, output_per_mtok_micros: 2_000_000 },
  limits,
  price_id: null,
  created_at: '',
  updated_at: '',
});

describe('call bounds of a Responses body', () => {
  it('reads the bound from max_output_tokens and writes it back there', () => {
    expect(clientOutputBound('responses', { max_output_tokens: 300 })).toBe(300);
    expect(withOutputBound('responses', { model: 'm', input: 'x', max_output_tokens: 5000 }, 1000)).toEqual({ model: 'm', input: 'x', max_output_tokens: 1000 });
    expect(withOutputBound('responses', { model: 'm', input: 'x' }, 1000)).toEqual({ model: 'm', input: 'x', max_output_tokens: 1000 });
    // a chat body keeps its own field
    expect(withOutputBound('openai', { max_tokens: 9 }, 7)).toEqual({ max_tokens: 7 });
  });

  it('holds a conversation stored upstream at the context window, and refuses it on a model without one', () => {
    const scan = scanBody({ model: 'm', previous_response_id: 'resp_1', input: 'Go on' });
    expect(scan.storedInput).toBe('previous_response_id');
    expect(callEstimateMicros(model({ context_tokens: 20_000 }), 10, 100, scan, 0)).toBe(20_000 + 200);
    const refused = (() => {
      try {
        return callEstimateMicros(model({}), 10, 100, scan, 0);
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).param).toBe('previous_response_id');
    expect(scanBody({ model: 'm', input: 'x', previous_response_id: null }).storedInput).toBeUndefined();
  });

  it('counts reasoning items carried back (their encrypted content) toward the input estimate', () => {
    const item = { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAA'.repeat(100) };
    expect(opaqueInputTexts('responses', { input: [{ role: 'user', content: 'x' }, item] })).toEqual([JSON.stringify(item)]);
    expect(opaqueInputTexts('openai', { input: [item] })).toEqual([]);
  });
});

describe('call bounds of bodies only a native upstream takes (issue 10)', () => {
  it('a Gemini cachedContent is input stored upstream, in either casing', () => {
    expect(scanBody({ contents: [], cachedContent: 'cachedContents/abc' }).storedInput).toBe('cachedContent');
    expect(scanBody({ contents: [], cached_content: 'cachedContents/abc' }).storedInput).toBe('cached_content');
    expect(callEstimateMicros(model({ context_tokens: 20_000 }), 10, 100, scanBody({ cachedContent: 'cachedContents/abc' }), 0)).toBe(20_000 + 200);
  });

  it('several choices are held for each: n, candidateCount', () => {
    expect(outputChoices('openai', { n: 3 })).toBe(3);
    expect(outputChoices('openai', {})).toBe(1);
    expect(outputChoices('gemini', { generationConfig: { candidateCount: 2 } })).toBe(2);
    expect(outputChoices('gemini', { generation_config: { candidate_count: 4 } })).toBe(4);
    expect(outputChoices('anthropic', { n: 3 })).toBe(1);
  });
});

import { adminCall, type StartedGateway } from './gateway';

/** Prices used by the style tests, micros per million tokens. */
export const PRICE = { input: 1_000_000, output: 2_000_000 };

/** Registers a Claude model served by an Anthropic-type channel and a Gemini model by a Gemini-type one, both on the mock. */
export async function registerStyleModels(g: StartedGateway): Promise<void> {
  const pricing = { input_per_mtok_micros: PRICE.input, output_per_mtok_micros: PRICE.output };
  for (const [id, provider, upstream, baseUrl] of [
    ['claude-x', 'anthropic', 'claude-sonnet-4-5', g.mockBase],
    ['gemini-x', 'gemini', 'gemini-2.5-flash', g.mockBase],
    ['gpt-x', 'openai', 'gpt-4o-mini', `${g.mockBase}/v1`],
  ] as const) {
    const m = await adminCall(g, 'POST', '/admin/models', { id, kind: 'chat', pricing, limits: { max_output_tokens: 1000 } });
    if (m.status !== 201) throw new Error(`model ${id}: ${JSON.stringify(m.json)}`);
    const c = await adminCall(g, 'POST', '/admin/channels', { name: `mock-${provider}-${id}`, provider, base_url: baseUrl, api_key: `upstream-key-${provider}`, models: { [id]: upstream } });
    if (c.status !== 201) throw new Error(`channel ${id}: ${JSON.stringify(c.json)}`);
  }
}

export const costOf = (input: number, output: number) => Math.ceil((input * PRICE.input + output * PRICE.output) / 1_000_000);

export interface Recorded {
  provider: string;
  path: string;
  body: Record<string, unknown>;
}

/** What the mock upstream received since the last clear. */
export async function mockRequests(g: StartedGateway): Promise<Recorded[]> {
  const r = await fetch(`${g.mockBase}/_mock/requests`);
  return ((await r.json()) as { data: Recorded[] }).data;
}

export async function clearMock(g: StartedGateway): Promise<void> {
  await fetch(`${g.mockBase}/_mock/requests`, { method: 'DELETE' });
}

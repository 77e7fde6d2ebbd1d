import type { IREffort, IRReasoning } from './ir';

// Reasoning controls come as an effort (OpenAI, Anthropic's output_config, Gemini 3's thinkingLevel) or as a
// token budget (Anthropic's thinking, Gemini 2.5's thinkingBudget); each upstream gets the form it takes.

export const EFFORTS: readonly IREffort[] = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'];

/** The budget an effort stands for where the upstream takes a budget. */
export const EFFORT_BUDGET: Record<Exclude<IREffort, 'none'>, number> = { minimal: 1024, low: 1024, medium: 8192, high: 24576, xhigh: 32768, max: 32768 };

/** The effort a budget stands for: 0 none, below 4096 low, below 16384 medium, else high; dynamic (-1) none in particular. */
export function effortOfBudget(budget: number): IREffort | undefined {
  if (budget === 0) return 'none';
  if (budget < 0) return undefined;
  if (budget < 4096) return 'low';
  if (budget < 16384) return 'medium';
  return 'high';
}

/** The client's effort, else the one its budget stands for; undefined: the model decides. */
export function reasoningEffort(r: IRReasoning): IREffort | undefined {
  return r.effort ?? (r.budget_tokens !== undefined ? effortOfBudget(r.budget_tokens) : undefined);
}

/** The client's budget, else its effort's; undefined: the model decides. */
export function reasoningBudget(r: IRReasoning): number | undefined {
  if (r.budget_tokens !== undefined) return r.budget_tokens;
  if (r.effort === undefined) return undefined;
  return r.effort === 'none' ? 0 : EFFORT_BUDGET[r.effort];
}

export function isEffort(v: unknown): v is IREffort {
  return typeof v === 'string' && (EFFORTS as readonly string[]).includes(v);
}

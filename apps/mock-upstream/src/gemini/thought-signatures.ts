import { createHash } from 'node:crypto';

// Gemini 3 signs what it answers (`thoughtSignature` on the first functionCall part of each step, and on
// the last part of an answer without calls) and refuses a turn that replays a call without its signature.
// The mock signs deterministically, so that it can check a replay without remembering what it issued.

export interface SignedPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { name?: string; args?: unknown };
  functionResponse?: { name?: string; response?: unknown };
}

export interface SignedContent {
  role?: string;
  parts?: SignedPart[];
}

/** What Google documents as accepted in place of a signature the caller never had (a call it made up). */
export const SKIP_VALIDATOR = 'skip_thought_signature_validator';

export const signsCalls = (model: string): boolean => model.startsWith('gemini-3');

/** JSON with sorted keys, so that a call's arguments sign alike however a client orders them. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/**
 * The signature of a call or a text: standard base64 of opaque bytes, as Gemini's are. The leading bytes
 * make every signature hold `+` and `/`, and the length makes it padded, so a client that rewrites it
 * (base64url, unpadded) is caught.
 */
export function thoughtSignature(kind: 'call' | 'text', name: string, payload: unknown): string {
  const digest = createHash('sha256').update(`${kind}\n${name}\n${canonical(payload)}`).digest();
  return Buffer.concat([Buffer.from([0xfb, 0xef, 0xbf]), digest, digest.subarray(0, 3)]).toString('base64');
}

export const callSignature = (call: { name?: string; args?: unknown }): string => thoughtSignature('call', call.name ?? '', call.args ?? {});

/** A user content that starts a turn: more than function responses. */
const startsTurn = (c: SignedContent): boolean => c.role !== 'model' && (c.parts ?? []).some((p) => !p.functionResponse);

/**
 * Gemini 3's check of the history, as documented: only the current turn (the contents after the last user
 * content that is more than function responses) is checked, and in it the first functionCall part of every
 * model step must carry the signature it came with. The error message, or null when the history passes.
 */
export function signatureError(contents: readonly SignedContent[]): string | null {
  let start = contents.length;
  while (start > 0 && !startsTurn(contents[start - 1])) start--;
  for (let i = start; i < contents.length; i++) {
    const c = contents[i];
    if (c.role !== 'model') continue;
    const first = (c.parts ?? []).find((p) => p.functionCall);
    if (!first?.functionCall) continue;
    const sig = first.thoughtSignature;
    const where = `function call \`default_api:${first.functionCall.name ?? ''}\` , position ${i + 1}`;
    if (!sig) {
      return `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, ${where}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`;
    }
    if (sig !== SKIP_VALIDATOR && sig !== callSignature(first.functionCall)) return `Corrupted thought signature. Additional data, ${where}.`;
  }
  return null;
}

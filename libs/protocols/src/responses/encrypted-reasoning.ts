// A translated answer's reasoning item carries, when the client asks for `reasoning.encrypted_content`, what
// the gateway needs to give the thinking back to the upstream on the next turn: Anthropic refuses a tool
// loop's next step with thinking on unless each earlier step starts with its signed thinking block, thinking
// text and signature as they came. The format: `gw1.` and the unpadded base64url of the UTF-8 JSON
// `{"thinking": "<text>", "signature": "<the upstream's signature>"}` (signature left out when there is
// none, as with Gemini, whose call signatures ride in the call ids). It is not encrypted: the client holds
// only what its summary shows it and an opaque seal. Anything else there (OpenAI's own encrypted reasoning,
// meaningful only to OpenAI) is not the gateway's and is left out of a translated request.

const PREFIX = 'gw1.';

export function encryptedReasoning(thinking: string, signature: string | undefined): string {
  return PREFIX + Buffer.from(JSON.stringify({ thinking, ...(signature ? { signature } : {}) }), 'utf8').toString('base64url');
}

/** The thinking block an encrypted_content the gateway wrote stands for; null for anyone else's. */
export function thinkingFromEncrypted(value: unknown): { text: string; signature?: string } | null {
  if (typeof value !== 'string' || !value.startsWith(PREFIX)) return null;
  try {
    const v = JSON.parse(Buffer.from(value.slice(PREFIX.length), 'base64url').toString('utf8')) as { thinking?: unknown; signature?: unknown };
    if (typeof v.thinking !== 'string') return null;
    return { text: v.thinking, ...(typeof v.signature === 'string' && v.signature ? { signature: v.signature } : {}) };
  } catch {
    return null;
  }
}

// Gemini 3 signs the function calls it makes (`thoughtSignature` on the part) and refuses a later turn that
// replays a call without its signature. The other styles have no field for it, so the gateway carries it
// inside the call's id, which every client sends back unchanged with the call and its result:
// `<id>__tsb_<the base64 signature in base64url, unpadded>` (any other signature: `__tsu_<base64url of its
// UTF-8>`). Only base64url characters are added, so the id still matches Anthropic's ^[a-zA-Z0-9_-]+$.

const MARK = /__ts([bu])_/;
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A tool call's id as a client of another style sees it: the signature, if any, rides inside. */
export function signedToolId(id: string, signature: string | undefined): string {
  if (!signature) return id;
  if (STANDARD_BASE64.test(signature)) return `${id}__tsb_${signature.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
  return `${id}__tsu_${Buffer.from(signature, 'utf8').toString('base64url')}`;
}

/** The inverse of signedToolId: the call's own id and the signature it carried. */
export function splitToolId(id: string): { id: string; signature?: string } {
  const m = MARK.exec(id);
  if (!m) return { id };
  const base = id.slice(0, m.index);
  const encoded = id.slice(m.index + m[0].length);
  if (m[1] === 'u') return { id: base, signature: Buffer.from(encoded, 'base64url').toString('utf8') };
  const b64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
  return { id: base, signature: b64 + '='.repeat((4 - (b64.length % 4)) % 4) };
}

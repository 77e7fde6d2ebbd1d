import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Buffers multipart/form-data bodies whole; handlers parse them with readForm. */
export function acceptMultipart(scope: FastifyInstance): void {
  scope.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
}

/** The form of a buffered multipart request (undici's parser), or undefined when the body is not one. */
export async function readForm(req: FastifyRequest): Promise<FormData | undefined> {
  const contentType = req.headers['content-type'];
  if (!Buffer.isBuffer(req.body) || !contentType?.startsWith('multipart/form-data')) return undefined;
  try {
    return await new Response(req.body, { headers: { 'content-type': contentType } }).formData();
  } catch {
    return undefined;
  }
}

export const formText = (form: FormData, name: string): string | undefined => {
  const v = form.get(name);
  return typeof v === 'string' ? v : undefined;
};

export const formFiles = (form: FormData, ...names: string[]): File[] =>
  names.flatMap((n) => form.getAll(n)).filter((v): v is File => typeof v !== 'string');

/** What the request log keeps of a form: its text fields, and each file's name, type and size. */
export function summariseForm(form: FormData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  form.forEach((value, key) => {
    const entry = typeof value === 'string' ? value : { filename: value.name, type: value.type, bytes: value.size };
    const prev = out[key];
    out[key] = prev === undefined ? entry : Array.isArray(prev) ? [...prev, entry] : [prev, entry];
  });
  return out;
}

import type { z } from 'zod';
import { InvalidRequestError } from './ir';

/** A zod issue path as the field name clients know: `messages[0].content`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map(String).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** Parses a request body, or throws the 400 that names the first bad field. */
export function parseRequest<S extends z.ZodTypeAny>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = fieldPath(issue.path) || 'body';
  throw new InvalidRequestError(param, `Invalid value for '${param}': ${issue.message}`);
}

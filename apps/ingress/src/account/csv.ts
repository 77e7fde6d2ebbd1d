import type { FastifyRequest } from 'fastify';

/** A report route answers CSV for `Accept: text/csv` or `?format=csv` (a link a spreadsheet can open). */
export function wantsCsv(req: FastifyRequest, format?: string): boolean {
  return format === 'csv' || String(req.headers.accept ?? '').includes('text/csv');
}

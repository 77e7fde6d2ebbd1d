import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** Where `npm run build` puts the console (apps/console/dist); CONSOLE_DIR overrides it. */
export function consoleDir(): string {
  // this file runs from dist/apps/ingress/src/console/: the repository root is five levels up
  return process.env.CONSOLE_DIR || path.resolve(__dirname, '../../../../../apps/console/dist');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

// The console talks to this origin's API only; charts draw inline SVG styles.
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The web console (apps/console, a Vite build) at /console/: its files as built, hashed assets cached for
 * a year, and index.html (never cached) for every other path under /console/ so that deep links load the
 * app, which routes them itself. It reads nothing but the build directory.
 */
export function mountConsole(fastify: FastifyInstance, dir = consoleDir()): void {
  const root = path.resolve(dir);
  const send = async (reply: FastifyReply, file: string, immutable: boolean) => {
    const body = await readFile(file);
    void reply
      .headers(SECURITY_HEADERS)
      .header('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream')
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.send(body);
  };
  const index = async (reply: FastifyReply) => {
    try {
      return await send(reply, path.join(root, 'index.html'), false);
    } catch {
      return reply
        .code(503)
        .header('content-type', 'text/plain; charset=utf-8')
        .send('The console is not built on this server: run `npm run build` (it builds apps/console into apps/console/dist).\n');
    }
  };
  fastify.get('/console', (_req: FastifyRequest, reply: FastifyReply) => reply.redirect('/console/', 301));
  fastify.get('/console/*', async (req: FastifyRequest, reply: FastifyReply) => {
    let rel: string;
    try {
      rel = decodeURIComponent((req.params as { '*': string })['*'] ?? '');
    } catch {
      return reply.code(400).header('content-type', 'text/plain; charset=utf-8').send('bad path\n');
    }
    const file = path.resolve(root, rel);
    // only files inside the build directory; anything else (or nothing) is the app's own route
    if (rel && (file === root || file.startsWith(root + path.sep))) {
      const info = await stat(file).catch(() => null);
      if (info?.isFile()) return send(reply, file, rel.startsWith('assets/'));
    }
    if (path.extname(rel) && rel.startsWith('assets/')) return reply.code(404).header('content-type', 'text/plain; charset=utf-8').send('not found\n');
    return index(reply);
  });
}

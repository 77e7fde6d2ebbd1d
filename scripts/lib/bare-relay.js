#!/usr/bin/env node
// The floor the gateway benchmark compares against: the least a Node.js process can do to relay a chat call.
// node:http in, the body parsed and serialised again, one undici keep-alive pool out to the upstream, the
// answer read whole, parsed, serialised and sent back. No auth, no hold, no rate limit, no translation, no
// logs, no metrics: what any gateway written in Node pays on this machine before doing its own work. It also
// answers GET /health as ingress does, for the benchmark's floor of the framework (Fastify, Nest, ingress's hooks).
//   node scripts/lib/bare-relay.js <port> <upstream origin> <upstream key>
const crypto = require('node:crypto');
const http = require('node:http');
const { Pool } = require('undici');

const [port, origin, key] = process.argv.slice(2);
const pool = new Pool(origin, { connections: 128, pipelining: 1 });
const upstreamHeaders = { 'content-type': 'application/json', authorization: `Bearer ${key}` };

function fail(res, status, message) {
  const body = JSON.stringify({ error: { message, type: 'relay_error' } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// request ids from a pool of random bytes refilled 4 kB at a time, as ingress draws its own (libs/contracts ids)
const pool4k = Buffer.alloc(4096);
let used = pool4k.length;
function requestId() {
  if (used + 12 > pool4k.length) (crypto.randomFillSync(pool4k), (used = 0));
  used += 12;
  return `req_${pool4k.toString('base64url', used - 12, used)}`;
}

/** GET /health: what ingress's own /health sends (its JSON, a fresh request id), for the framework's floor in the benchmark */
function health(res) {
  const body = JSON.stringify({ ok: true });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-tt-request-id': requestId() });
  res.end(body);
}

http
  .createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') return req.resume(), health(res);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let sent;
      try {
        sent = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        return fail(res, 400, 'body is not JSON');
      }
      try {
        const up = await pool.request({ path: req.url, method: 'POST', headers: upstreamHeaders, body: sent });
        const text = await up.body.text();
        const out = JSON.stringify(JSON.parse(text));
        res.writeHead(up.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        res.end(out);
      } catch (err) {
        fail(res, 502, `upstream: ${err.message}`);
      }
    });
  })
  .listen(Number(port), '127.0.0.1', () => process.stdout.write('BARE_RELAY_READY\n'));

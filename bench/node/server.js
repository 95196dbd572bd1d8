'use strict';
// Peer server for the wsauth benchmarks: Node.js `ws` + `jsonwebtoken`.
// Checks the HS256 `?token=` JWT in the HTTP `upgrade` event and answers 401
// before any upgrade; sends {"type":"welcome"} after it and echoes frames.
//
//   BENCH_HMAC_SECRET=... node server.js [--listen 127.0.0.1:0]
//
// Prints `node listening on http://127.0.0.1:PORT` once it accepts connections.

const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const jwt = require('jsonwebtoken');
const { WebSocketServer } = require('ws');

function parseListen(argv) {
  const i = argv.indexOf('--listen');
  const value = i >= 0 ? argv[i + 1] : process.env.BENCH_LISTEN || '127.0.0.1:0';
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(value.slice(at + 1));
  const loopback = host === '::1' || (net.isIPv4(host) && host.startsWith('127.'));
  if (!loopback || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`refusing --listen ${value}: loopback address and port required`);
    process.exit(2);
  }
  return { host, port };
}

const secret = process.env.BENCH_HMAC_SECRET;
if (!secret) {
  console.error('BENCH_HMAC_SECRET is required');
  process.exit(2);
}
// The key object is made once, not per verification.
const key = crypto.createSecretKey(Buffer.from(secret, 'utf8'));
const verifyOptions = { algorithms: ['HS256'] };
const WELCOME = '{"type":"welcome"}';
const UNAUTHORIZED = '{"detail":"Invalid or missing token","error":"invalid_token"}';

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"detail":"Not Found"}');
});
const wss = new WebSocketServer({
  noServer: true,
  clientTracking: false,
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
});

function reject(socket, status, reason, body) {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const q = req.url.indexOf('?');
  const path = q >= 0 ? req.url.slice(0, q) : req.url;
  if (path !== '/ws') {
    reject(socket, 404, 'Not Found', '{"detail":"Not Found"}');
    return;
  }
  const token = q >= 0 ? new URLSearchParams(req.url.slice(q + 1)).get('token') : null;
  try {
    jwt.verify(token || '', key, verifyOptions);
  } catch {
    reject(socket, 401, 'Unauthorized', UNAUTHORIZED);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.send(WELCOME);
  });
});

const { host, port } = parseListen(process.argv);
server.listen({ host, port }, () => {
  const addr = server.address();
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  process.stdout.write(`node listening on http://${shown}:${addr.port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));

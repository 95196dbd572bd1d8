// A tiny HTTP server on another origin than the wsauth server: it serves the attacker's
// pages from e2e/pages/ and notes every connection and request that reaches it.
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { E2E_DIR } from "./server.mjs";

export const PAGES_DIR = join(E2E_DIR, "pages");

/**
 * Starts a server on 127.0.0.1:<free port>. `pages` maps a path (query ignored) to a file
 * name in e2e/pages/; every other path answers 404. Cookies belong to the host, not the
 * port, so its pages see the cookies the wsauth server set on 127.0.0.1.
 * `connections()` counts the TCP connections accepted, `requests` lists "METHOD url" of
 * each request and WebSocket upgrade, so a test can assert that nothing arrived at all.
 */
export async function startStaticServer(pages = {}) {
  const html = Object.fromEntries(
    Object.entries(pages).map(([path, file]) => [path, readFileSync(join(PAGES_DIR, file), "utf8")]));
  const requests = [];
  let connections = 0;
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const body = html[new URL(req.url, "http://localhost").pathname];
    if (body === undefined) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    res.end(body);
  });
  server.on("connection", () => { connections += 1; });
  server.on("upgrade", (req, socket) => {
    requests.push(`UPGRADE ${req.url}`);
    socket.destroy();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    requests,
    connections: () => connections,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

/**
 * A bare TCP listener on 127.0.0.1:<free port> standing for another host: it counts the
 * connections it accepts and the bytes it receives, and answers anything with a 404.
 */
export async function startListener() {
  let connections = 0;
  let bytes = 0;
  const sockets = new Set();
  const server = createNetServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.on("data", (chunk) => {
      bytes += chunk.length;
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    /** What has reached the listener so far. */
    seen: () => ({ connections, bytes }),
    stop: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}

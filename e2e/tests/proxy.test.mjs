// A proxied route (`--proxy`) in each browser-usable mode, in Chromium: query token, ticket,
// subprotocol, cookie + CSRF. The upstream is bench-baseline --behind-wsauth (a Rust echo
// server that sends {"type":"welcome"} and echoes), so every frame the page sees crossed it.
// First-message mode has no proxied form: every frame of a proxied socket is the upstream's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { startServer, register, newUsername, PASSWORD, REPO_ROOT } from "../lib/server.mjs";
import { launch, openPage } from "../lib/browser.mjs";

const BIN_DIR = process.env.WSAUTH_BIN ? dirname(process.env.WSAUTH_BIN) : join(REPO_ROOT, "target/debug");
const UPSTREAM_BIN = join(BIN_DIR, "bench-baseline");
const READY = /^bench-baseline listening on http:\/\/127\.0\.0\.1:(\d+)\s*$/m;

let upstream;
let server;
let browser;

function startUpstream() {
  if (!existsSync(UPSTREAM_BIN)) throw new Error(`${UPSTREAM_BIN} not found: run \`cargo build --workspace\` first`);
  const child = spawn(UPSTREAM_BIN, [
    "--listen", "127.0.0.1:0", "--hmac-secret", randomBytes(32).toString("hex"), "--behind-wsauth",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`bench-baseline did not start:\n${output}`)), 30_000);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const m = READY.exec(output);
      if (m) { clearTimeout(timer); resolve({ port: Number(m[1]), stop: () => child.kill("SIGTERM") }); }
    });
    child.stderr.on("data", (chunk) => { output += chunk; });
  });
}

before(async () => {
  upstream = await startUpstream();
  server = await startServer({ env: { WSAUTH_PROXY: `/echo=ws://127.0.0.1:${upstream.port}/` } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  upstream?.stop();
});

test("a proxied route works in every browser mode and logout closes it with 4003", async () => {
  const username = newUsername("proxied");
  await register(server.origin, username);
  // A document on the server's origin without the demo page's CSP, to run the client code in.
  const { page, errors } = await openPage(browser.context, `${server.origin}/healthz`);
  try {
    const result = await page.evaluate(async ({ username, password }) => {
      const base = `ws://${location.host}/echo`;
      const post = (path, { body, headers = {}, credentials = "omit" } = {}) => fetch(path, {
        method: "POST", credentials, body: body && JSON.stringify(body),
        headers: { ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
      });
      /** Opens a socket, reads the upstream's welcome, echoes one frame; keeps it open. */
      const open = (url, protocols) => new Promise((resolve, reject) => {
        const ws = new WebSocket(url, protocols);
        const frames = [];
        let closed;
        const closing = new Promise((r) => { closed = r; });
        ws.onclose = (ev) => { closed({ code: ev.code, reason: ev.reason }); reject(new Error(`closed ${ev.code}`)); };
        ws.onerror = () => reject(new Error(`error on ${url.replace(/=[^&]*/g, "=…")}`));
        ws.onmessage = (ev) => {
          frames.push(ev.data);
          if (frames.length === 1) ws.send("echo through the proxy");
          if (frames.length === 2) resolve({ ws, frames, protocol: ws.protocol, closing });
        };
      });
      const login = await (await post("/auth/login", { body: { username, password } })).json();
      const token = login.access_token;
      const auth = { Authorization: `Bearer ${token}` };
      const sockets = {};
      sockets.query = await open(`${base}?token=${token}`);
      sockets.subprotocol = await open(base, ["wsauth", `bearer.${token}`]);
      const { ticket } = await (await post("/auth/ws-ticket", { headers: auth })).json();
      sockets.ticket = await open(`${base}?ticket=${ticket}`);
      await post("/auth/cookie/login", { body: { username, password }, credentials: "same-origin" });
      const csrf = /(?:^|; )csrf_access_token=([^;]*)/.exec(document.cookie)?.[1];
      sockets.cookie = await open(`${base}?csrf_token=${csrf}`);
      // Log out the token login: its three sockets close with 4003; the cookie login's stays.
      const logout = await post("/auth/logout", { headers: auth });
      const within = (p) => Promise.race([p, new Promise((r) => setTimeout(() => r({ code: null }), 10_000))]);
      const closes = {};
      for (const mode of ["query", "subprotocol", "ticket"]) closes[mode] = await within(sockets[mode].closing);
      const cookieOpen = sockets.cookie.ws.readyState === WebSocket.OPEN;
      sockets.cookie.ws.close(1000, "done");
      const summary = {};
      for (const [mode, s] of Object.entries(sockets)) summary[mode] = { frames: s.frames, protocol: s.protocol };
      return { summary, logout: logout.status, closes, cookieOpen };
    }, { username, password: PASSWORD });
    for (const mode of ["query", "subprotocol", "ticket", "cookie"]) {
      assert.deepEqual(result.summary[mode].frames, ['{"type":"welcome"}', "echo through the proxy"], mode);
    }
    assert.equal(result.summary.subprotocol.protocol, "wsauth");
    assert.equal(result.logout, 200);
    for (const mode of ["query", "subprotocol", "ticket"]) {
      assert.deepEqual(result.closes[mode], { code: 4003, reason: "token revoked" }, mode);
    }
    assert.equal(result.cookieOpen, true, "another login's socket stays open");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

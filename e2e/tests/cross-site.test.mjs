// The cookie credential is ambient: a page on another origin can make the browser send it.
// The server must refuse such a handshake because of its Origin, while the same page on
// the allowed origin connects.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, register, newUsername, PAGE_PATH } from "../lib/server.mjs";
import { startStaticPage } from "../lib/static.mjs";
import { handshake } from "../lib/handshake.mjs";
import { launch, openPage, screenshot } from "../lib/browser.mjs";
import { cookieLogin, connectAndWelcome, echo, waitStatus, waitFrame } from "../lib/page.mjs";

let server;
let other;
let browser;

before(async () => {
  server = await startServer();
  other = await startStaticPage(readFileSync(PAGE_PATH, "utf8"));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await other?.stop();
  await server?.stop();
});

test("cookie + CSRF from another origin is refused; from the allowed origin it connects", async () => {
  const username = newUsername("crosssite");
  await register(server.origin, username);

  // Allowed origin: log in with cookies and connect.
  const home = await openPage(browser.context, `${server.origin}/`);
  await cookieLogin(home.page, username);
  await connectAndWelcome(home.page, "cookie", username);
  await echo(home.page, "cookie", "from the allowed origin");
  await screenshot(home.page, "cross-site-allowed-origin");

  // Cookies belong to the host, not the port: a page on 127.0.0.1:<other port> sees the
  // CSRF cookie and the browser sends the HttpOnly access cookie with its handshake.
  const evil = await openPage(browser.context, `${other.origin}/?server=${server.host}`);
  const cookies = await evil.page.evaluate(() => document.cookie);
  assert.match(cookies, /csrf_access_token=/, "the other origin's page can read the CSRF cookie");
  assert.match(await evil.page.textContent("#server"), new RegExp(`^${server.origin.replace(/\./g, "\\.")} `));
  assert.equal(await evil.page.isVisible("#cross-origin-note"), true);
  await evil.page.click("#connect-cookie");
  await waitStatus(evil.page, "cookie", /^closed 1006 \(/);
  await waitFrame(evil.page, "cookie", "event", "error before open");
  await screenshot(evil.page, "cross-site-refused");
  assert.deepEqual(evil.errors, []);

  // What the browser hides: the same handshake from Node shows the status and reason.
  const csrf = /csrf_access_token=([^;]+)/.exec(cookies)[1];
  const jar = await browser.context.cookies(server.origin);
  const cookieHeader = jar.map((c) => `${c.name}=${c.value}`).join("; ");
  const refused = await handshake(`${server.origin}/ws?csrf_token=${encodeURIComponent(csrf)}`, {
    Cookie: cookieHeader,
    Origin: other.origin,
  });
  assert.equal(refused.status, 403, `cross-origin handshake: ${JSON.stringify(refused)}`);
  const body = JSON.parse(refused.body);
  assert.equal(typeof body.error, "string");
  assert.equal(typeof body.detail, "string");
  const accepted = await handshake(`${server.origin}/ws?csrf_token=${encodeURIComponent(csrf)}`, {
    Cookie: cookieHeader,
    Origin: server.origin,
  });
  assert.equal(accepted.status, 101, `same-origin handshake: ${JSON.stringify(accepted)}`);

  // The allowed origin's socket is untouched by the refused attempt.
  await echo(home.page, "cookie", "still open");
  await home.page.close();
  await evil.page.close();
});

// The cookie credential is ambient: a page on another origin can make the browser send it.
// An attacker's page (e2e/pages/cross-site.html) on another port of the same host reads the
// CSRF cookie and tries the cookie + CSRF handshake; the server must refuse it because of
// its Origin, while the demo page on the allowed origin connects.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, register, newUsername } from "../lib/server.mjs";
import { startStaticServer } from "../lib/static.mjs";
import { handshake } from "../lib/handshake.mjs";
import { launch, openPage, screenshot } from "../lib/browser.mjs";
import { cookieLogin, connectAndWelcome, echo, waitText } from "../lib/page.mjs";

let server;
let other;
let browser;

before(async () => {
  server = await startServer();
  other = await startStaticServer({ "/cross-site.html": "cross-site.html" });
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

  // Cookies belong to the host, not the port: the attacker's page on 127.0.0.1:<other port>
  // sees the CSRF cookie, and the browser sends the HttpOnly access cookie with its handshake.
  const evil = await openPage(browser.context, `${other.origin}/cross-site.html?target=${server.host}`);
  const cookies = await evil.page.evaluate(() => document.cookie);
  assert.match(cookies, /csrf_access_token=/, "the other origin's page can read the CSRF cookie");
  const csrf = /csrf_access_token=([^;]+)/.exec(cookies)[1];
  assert.equal(await evil.page.textContent("#csrf"), decodeURIComponent(csrf));
  const upgrades = [];
  evil.page.on("websocket", (ws) => upgrades.push(ws.url()));
  await evil.page.click("#attack");
  await waitText(evil.page, "#result", /^closed 1006$/);
  const events = await evil.page.$$eval("#events li", (lis) => lis.map((li) => li.textContent));
  assert.deepEqual(events, ["error", "close 1006"], "refused before open: an error, then 1006");
  assert.deepEqual(upgrades, [`ws://${server.host}/ws?csrf_token=${csrf}`], "the browser did try the real server");
  await screenshot(evil.page, "cross-site-refused");
  assert.deepEqual(evil.errors, []);

  // What the browser hides: the same handshake from Node shows the status and reason.
  const jar = await browser.context.cookies(server.origin);
  const cookieHeader = jar.map((c) => `${c.name}=${c.value}`).join("; ");
  const refused = await handshake(`${server.origin}/ws?csrf_token=${encodeURIComponent(csrf)}`, {
    Cookie: cookieHeader,
    Origin: other.origin,
  });
  assert.equal(refused.status, 403, `cross-origin handshake: ${JSON.stringify(refused)}`);
  const body = JSON.parse(refused.body);
  assert.equal(body.error, "origin_not_allowed");
  assert.equal(typeof body.detail, "string");
  const accepted = await handshake(`${server.origin}/ws?csrf_token=${encodeURIComponent(csrf)}`, {
    Cookie: cookieHeader,
    Origin: server.origin,
  });
  assert.equal(accepted.status, 101, `same-origin handshake: ${JSON.stringify(accepted)}`);

  // The allowed origin's socket is untouched by the refused attempt.
  await echo(home.page, "cookie", "still open");
  assert.deepEqual(home.errors, []);
  await home.page.close();
  await evil.page.close();
});

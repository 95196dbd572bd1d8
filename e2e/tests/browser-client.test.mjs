// examples/clients/browser_client.js, loaded as an ES module into a page on the server's origin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, register, newUsername, PASSWORD, BROWSER_CLIENT_PATH } from "../lib/server.mjs";
import { launch, openPage } from "../lib/browser.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Opens a document on the server's origin that is not the demo page (`/healthz`: the demo
 * page's Content-Security-Policy admits only its own inline script, so it would refuse the
 * import), with the example module served at /examples/browser_client.js.
 */
async function pageWithClient() {
  const source = readFileSync(BROWSER_CLIENT_PATH, "utf8");
  return openPage(browser.context, `${server.origin}/healthz`, {
    setup: (page) => page.route(`${server.origin}/examples/browser_client.js`, (route) =>
      route.fulfill({ status: 200, contentType: "text/javascript; charset=utf-8", body: source })),
  });
}

test("browser_client.js logs in, connects with a ticket, echoes and sees 4003 on logout", async () => {
  const username = newUsername("jsclient");
  await register(server.origin, username);
  const { page, errors } = await pageWithClient();
  try {
    const result = await page.evaluate(async ({ username, password }) => {
      const client = await import("/examples/browser_client.js");
      const tokens = await client.login(username, password);
      let closed;
      const closedPromise = new Promise((resolve) => { closed = resolve; });
      const conn = await client.connectWithTicket(tokens.access_token, {
        onClose: (ev) => closed({ code: ev.code, meaning: client.describeClose(ev.code) }),
      });
      const echoed = await conn.request({ type: "echo", data: "from browser_client.js" });
      const logout = await fetch("/auth/logout", {
        method: "POST", credentials: "omit", headers: { Authorization: `Bearer ${tokens.access_token}` },
      });
      const close = await Promise.race([
        closedPromise,
        new Promise((resolve) => setTimeout(() => resolve({ code: null, meaning: "still open after 10 s" }), 10_000)),
      ]);
      return { welcome: conn.welcome, echoed, logout: logout.status, close };
    }, { username, password: PASSWORD });
    assert.equal(result.welcome.type, "welcome");
    assert.equal(result.welcome.sub, username);
    assert.equal(result.welcome.credential, "ticket");
    assert.deepEqual(result.echoed, { type: "echo", data: "from browser_client.js" });
    assert.equal(result.logout, 200);
    assert.deepEqual(result.close, { code: 4003, meaning: "token revoked" });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("browser_client.js reports a refused ticket as an error with its status", async () => {
  const { page, errors } = await pageWithClient();
  try {
    const result = await page.evaluate(async () => {
      const client = await import("/examples/browser_client.js");
      try {
        await client.connectWithTicket("not-a-token");
        return { ok: true };
      } catch (err) {
        return { ok: false, status: err.status, code: err.code };
      }
    });
    assert.equal(result.ok, false);
    assert.equal(result.status, 401);
    assert.equal(typeof result.code, "string");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

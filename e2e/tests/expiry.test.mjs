// Short-lived access tokens: the page counts down, the server closes an expired socket
// with 4001, and an in-band refresh keeps a socket past its first token's expiry.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, register, newUsername } from "../lib/server.mjs";
import { launch, openPage, screenshot } from "../lib/browser.mjs";
import { tokenLogin, connectAndWelcome, echo, waitStatus, waitText, waitMessage } from "../lib/page.mjs";

const TTL = 5;
let server;
let browser;

before(async () => {
  server = await startServer({ args: ["--access-ttl", String(TTL)] });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("an expiring token closes its socket with 4001, and the page shows it expired", async () => {
  const username = newUsername("expiry");
  await register(server.origin, username);
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  try {
    await tokenLogin(page, username);
    await waitText(page, "#token-exp", /^expires in 0:0[0-5] \(at /);
    await connectAndWelcome(page, "query", username);
    await connectAndWelcome(page, "subprotocol", username);
    await waitStatus(page, "query", /^closed 4001 \(token expired\)/, (TTL + 5) * 1000);
    await waitStatus(page, "subprotocol", /^closed 4001 \(token expired\)/, 5_000);
    await waitText(page, "#token-exp", /^expired \d+ s ago/);
    // No longer "Logged in" in green once the token has expired.
    await waitText(page, "#auth-status", /has expired: refresh or log in again/);
    assert.equal(await page.getAttribute("#auth-status", "data-ok"), "false");
    // First-message mode says "token expired" as the others do, not the raw `token_expired`.
    await page.click("#connect-deferred");
    await waitStatus(page, "deferred", /^closed 4001 \(token expired\): token expired$/, 10_000);
    await screenshot(page, "expired");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("an in-band refresh keeps the socket open past the first token's expiry", async () => {
  const username = newUsername("keepalive");
  await register(server.origin, username);
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  try {
    await tokenLogin(page, username);
    const firstExp = JSON.parse(await page.textContent("#claims")).exp;
    await connectAndWelcome(page, "query", username);
    await page.waitForTimeout(2_000);
    await page.click("#refresh");
    await waitMessage(page, "query", (m, exp) => m.type === "refreshed" && m.exp > exp, firstExp, "a refreshed frame with a later exp");
    // Past the first token's expiry, the socket is still open and answers.
    const wait = (firstExp + 1.5) * 1000 - Date.now();
    if (wait > 0) await page.waitForTimeout(wait);
    assert.match(await page.textContent("#status-query"), /^open, refreshed until /);
    await echo(page, "query", "alive past the first expiry");
    // And it ends when the refreshed token does.
    await waitStatus(page, "query", /^closed 4001 \(token expired\)/, (TTL + 5) * 1000);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

// Channels through the demo page: subscribe, publish, presence, joins and leaves between two
// users, errors with their codes, and a right taken away by the application's backend ending
// one subscription while the socket stays open.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, register, newUsername } from "../lib/server.mjs";
import { launch, openPage, screenshot } from "../lib/browser.mjs";
import {
  tokenLogin, connectAndWelcome, echo, waitStatus, waitChannel, channelAction, channelLog, subscriptions,
} from "../lib/page.mjs";

const ALL = "subscribe publish presence";
let authorizer;
let server;
let browser;
let configDir;

/**
 * The application's backend as wsauth sees it: `POST /authorize` with the bearer secret,
 * answering `{"allow", "ttl"}`. It allows every action on the channels in `allowed` (as
 * "<sub> <channel>") and nothing else, for `ttl` seconds; each question is kept in `asked`.
 */
async function startAuthorizer(secret) {
  const allowed = new Set();
  const asked = [];
  const http = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/authorize" || req.headers.authorization !== `Bearer ${secret}`) {
        res.writeHead(401, { "Content-Type": "application/json" });
        res.end('{"error":"unauthorized"}');
        return;
      }
      let q;
      try { q = JSON.parse(body); } catch { q = null; }
      if (!q || typeof q.sub !== "string" || typeof q.channel !== "string") {
        res.writeHead(400, { "Content-Type": "application/json" });
        res.end('{"error":"bad_request"}');
        return;
      }
      asked.push(q);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ allow: allowed.has(`${q.sub} ${q.channel}`), ttl: 1 }));
    });
  });
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${http.address().port}/authorize`,
    allowed,
    asked,
    stop: () => new Promise((resolve) => { http.closeAllConnections(); http.close(resolve); }),
  };
}

before(async () => {
  const secret = randomBytes(32).toString("hex");
  authorizer = await startAuthorizer(secret);
  configDir = mkdtempSync(join(tmpdir(), "wsauth-e2e-config-"));
  const config = join(configDir, "wsauth.toml");
  writeFileSync(config, [
    "[channels]",
    `authorizer_url = "${authorizer.url}"`,
    `authorizer_secret = "${secret}"`,
    "",
    "[[channels.rules]]",
    'pattern = "room:*"',
    'actions = ["subscribe", "publish", "presence"]',
    "",
  ].join("\n"));
  server = await startServer({ args: ["--config", config] });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await authorizer?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

/** Registers a user, opens the page, logs in with a token and connects with a ticket. */
async function connectedPage(prefix) {
  const username = newUsername(prefix);
  await register(server.origin, username);
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  await tokenLogin(page, username);
  await connectAndWelcome(page, "ticket", username);
  return { page, errors, username };
}

test("two users in a room: subscriptions, messages with their sender, presence, joins and leaves", async () => {
  const a = await connectedPage("alice");
  const b = await connectedPage("bob");
  try {
    await channelAction(a.page, "subscribe", "room:1");
    await waitChannel(a.page, { type: "subscribed", channel: "room:1" }, "subscribed (subscribe, publish, presence)");
    assert.deepEqual(await subscriptions(a.page), [{ mode: "ticket", channel: "room:1", actions: ALL }]);

    await channelAction(a.page, "publish", "room:1", "hello from alice");
    await waitChannel(a.page, { type: "published", channel: "room:1" });
    await waitChannel(a.page, { type: "message", channel: "room:1", from: a.username }, `${a.username}: hello from alice`);

    await channelAction(b.page, "subscribe", "room:1");
    await waitChannel(b.page, { type: "subscribed", channel: "room:1" });
    await waitChannel(a.page, { type: "join", channel: "room:1", sub: b.username }, `${b.username} joined`);

    await channelAction(b.page, "publish", "room:1", '{"text":"hi alice"}');
    await waitChannel(a.page, { type: "message", channel: "room:1", from: b.username }, `${b.username}: {"text":"hi alice"}`);
    await waitChannel(b.page, { type: "message", channel: "room:1", from: b.username }, '{"text":"hi alice"}');

    await channelAction(a.page, "presence", "room:1");
    await waitChannel(a.page, { type: "presence", channel: "room:1" }, "present: ");
    const [presence] = (await channelLog(a.page)).filter((e) => e.type === "presence");
    assert.match(presence.text, new RegExp(`${a.username} \\(1\\)`));
    assert.match(presence.text, new RegExp(`${b.username} \\(1\\)`));
    await screenshot(a.page, "channels-room");

    // The subscription's own Unsubscribe button, in the list.
    await b.page.click('#subscriptions li[data-channel="room:1"] button');
    await waitChannel(b.page, { type: "unsubscribed", channel: "room:1", reason: "client" }, "unsubscribed");
    assert.deepEqual(await subscriptions(b.page), []);
    await waitChannel(a.page, { type: "leave", channel: "room:1", sub: b.username }, `${b.username} left`);

    // What no source grants, and what is not a channel, are refused with their codes.
    await channelAction(b.page, "subscribe", "secret:1");
    await waitChannel(b.page, { type: "error", code: "forbidden" }, "subscribe refused: forbidden");
    await channelAction(b.page, "publish", "room::1", "x");
    await waitChannel(b.page, { type: "error", code: "bad_channel" }, "publish refused: bad_channel");
    const forbidden = (await channelLog(b.page)).find((e) => e.code === "forbidden");
    assert.equal(forbidden.channel, "secret:1", "the error names the channel of the command it answers");
    assert.deepEqual(await subscriptions(b.page), []);

    // Closing the socket empties the list.
    await a.page.click("#close-ticket");
    await waitStatus(a.page, "ticket", /^closed 1000/);
    assert.deepEqual(await subscriptions(a.page), []);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await a.page.close();
    await b.page.close();
  }
});

test("commands without an open socket say so and send nothing", async () => {
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  try {
    await channelAction(page, "subscribe", "room:1");
    await waitChannel(page, { type: "page" }, "no open socket");
    assert.equal(await page.locator("#frames li[data-dir=out]").count(), 0);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("the backend taking a right away ends that subscription, and the socket stays open", async () => {
  const { page, errors, username } = await connectedPage("carol");
  try {
    authorizer.allowed.add(`${username} doc:7`);
    await channelAction(page, "subscribe", "doc:7");
    await waitChannel(page, { type: "subscribed", channel: "doc:7" }, "subscribed (subscribe, publish, presence)");
    await channelAction(page, "subscribe", "room:1");
    await waitChannel(page, { type: "subscribed", channel: "room:1" });
    assert.deepEqual((await subscriptions(page)).map((s) => s.channel).sort(), ["doc:7", "room:1"]);
    const question = authorizer.asked.find((q) => q.sub === username && q.channel === "doc:7" && q.action === "subscribe");
    assert.ok(question, "wsauth asked the backend about doc:7");
    assert.equal(question.channel_sub, username);
    assert.equal(question.issuer, null);
    assert.ok(!authorizer.asked.some((q) => q.channel === "room:1"), "the rules granted room:1 without asking");

    authorizer.allowed.delete(`${username} doc:7`);
    await waitChannel(page, { type: "unsubscribed", channel: "doc:7", reason: "permission_revoked" },
      "doc:7: your access was revoked");
    await screenshot(page, "channels-revoked");
    assert.deepEqual(await subscriptions(page), [{ mode: "ticket", channel: "room:1", actions: ALL }]);

    // The socket is open and still works, on its other subscription too.
    await waitStatus(page, "ticket", new RegExp(`^open as ${username} via `));
    await echo(page, "ticket", "still here");
    await channelAction(page, "publish", "room:1", "after the revocation");
    await waitChannel(page, { type: "message", channel: "room:1", from: username }, "after the revocation");
    await channelAction(page, "subscribe", "doc:7");
    await waitChannel(page, { type: "error", channel: "doc:7", code: "forbidden" }, "subscribe refused: forbidden");
    assert.ok(!(await channelLog(page)).some((e) => e.type === "message" && e.channel === "doc:7"));
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

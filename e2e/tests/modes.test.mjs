// Every way of authenticating a WebSocket, driven through the demo page in Chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, register, newUsername, PASSWORD } from "../lib/server.mjs";
import { launch, openPage, screenshot } from "../lib/browser.mjs";
import {
  tokenLogin, cookieLogin, connectAndWelcome, echo, waitStatus, waitText, waitMessage, inFrames, fillCredentials,
} from "../lib/page.mjs";

const REVOKED = /^closed 4003 \(token revoked\)/;
/** The credential name the server reports in its welcome frame, per page mode. */
const CREDENTIAL = { query: "query", subprotocol: "subprotocol", ticket: "ticket", cookie: "cookie", deferred: "first_message" };
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

/** Registers a user over HTTP, opens the page and logs in the given way. */
async function loggedInPage(how) {
  const username = newUsername(how);
  await register(server.origin, username);
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  if (how === "cookie") await cookieLogin(page, username);
  else await tokenLogin(page, username);
  return { page, errors, username };
}

/** Connect, welcome, echo, log out, see 4003. */
async function fullCycle(how, mode) {
  const { page, errors, username } = await loggedInPage(how);
  try {
    const claims = JSON.parse(await page.textContent("#claims"));
    assert.equal(claims.sub, username);
    if (how === "cookie") {
      const csrf = await page.evaluate(() => /(?:^|; )csrf_access_token=([^;]*)/.exec(document.cookie)?.[1]);
      assert.equal(claims.csrf, csrf, "the access cookie's csrf claim is the readable CSRF cookie");
    }
    await connectAndWelcome(page, mode, username);
    const [welcome] = (await inFrames(page, mode)).filter((m) => m.type === "welcome");
    assert.equal(welcome.sub, username);
    assert.equal(welcome.credential, CREDENTIAL[mode]);
    assert.ok(welcome.exp > Date.now() / 1000, "welcome carries a future exp");
    await echo(page, mode, `hello from ${mode} (${how})`);
    await screenshot(page, `${mode}-${how}-open`);
    await page.click("#logout");
    await waitText(page, "#auth-status", /^Logged out\./);
    await waitStatus(page, mode, REVOKED);
    await screenshot(page, `${mode}-${how}-revoked`);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
}

test("the page has its stable ids, labelled controls and no external resources", async () => {
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  const requests = [];
  page.on("request", (req) => requests.push(req.url()));
  try {
    await page.reload();
    const report = await page.evaluate(() => {
      const ids = ["username", "password", "register", "login", "cookie-login", "refresh", "logout", "logout-all",
        "echo-input", "send-echo", "whoami", "frames", "claims", "token-exp", "session-mode", "auth-status",
        ...["query", "subprotocol", "ticket", "cookie", "deferred"].flatMap((m) => [`connect-${m}`, `close-${m}`, `status-${m}`])];
      const all = [...document.querySelectorAll("[id]")].map((el) => el.id);
      return {
        missing: ids.filter((id) => !document.getElementById(id)),
        duplicated: all.filter((id, i) => all.indexOf(id) !== i),
        unlabelled: [...document.querySelectorAll("input")].filter((el) => el.labels.length === 0).map((el) => el.id),
        nameless: [...document.querySelectorAll("button")].filter((b) => !b.textContent.trim()).map((b) => b.id),
        lang: document.documentElement.lang,
      };
    });
    assert.deepEqual(report, { missing: [], duplicated: [], unlabelled: [], nameless: [], lang: "en" });
    assert.deepEqual(requests.filter((u) => !u.startsWith(server.origin)), [], "everything comes from the server itself");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("token login shows decoded claims and a counting-down expiry", async () => {
  const { page, errors, username } = await loggedInPage("claims");
  try {
    const claims = JSON.parse(await page.textContent("#claims"));
    assert.equal(claims.sub, username);
    assert.equal(claims.type, "access");
    assert.equal(typeof claims.jti, "string");
    assert.ok(claims.exp > claims.iat);
    await waitText(page, "#token-exp", /^expires in \d+:\d\d \(at /);
    const first = await page.textContent("#token-exp");
    await page.waitForTimeout(2_100);
    const second = await page.textContent("#token-exp");
    assert.notEqual(first, second, "the expiry counts down");
    await screenshot(page, "claims");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("register button and a wrong password are reported on the page", async () => {
  const username = newUsername("pagereg");
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  try {
    await fillCredentials(page, username, PASSWORD);
    await page.click("#register");
    await waitText(page, "#auth-status", new RegExp(`^Registered ${username}\\.`));
    await fillCredentials(page, username, "not the password at all");
    await page.click("#login");
    await waitText(page, "#auth-status", /401/);
    await tokenLogin(page, username);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("query token: connect, welcome, echo, logout closes 4003", () => fullCycle("token", "query"));
test("subprotocol token: connect, welcome, echo, logout closes 4003", () => fullCycle("token", "subprotocol"));
test("ticket from a token login: connect, welcome, echo, logout closes 4003", () => fullCycle("token", "ticket"));
test("ticket from a cookie login: connect, welcome, echo, logout closes 4003", () => fullCycle("cookie", "ticket"));
test("cookie + CSRF: connect, welcome, echo, logout closes 4003", () => fullCycle("cookie", "cookie"));
test("first message on /ws/deferred: connect, welcome, echo, logout closes 4003", () => fullCycle("token", "deferred"));

test("subprotocol mode: the server selects wsauth and never echoes the token", async () => {
  const { page, errors, username } = await loggedInPage("subproto");
  try {
    await connectAndWelcome(page, "subprotocol", username);
    assert.equal(await page.textContent("#status-subprotocol"), `open as ${username} via subprotocol`);
    const protocol = await page.evaluate(() =>
      [...document.querySelectorAll('#frames li[data-mode="subprotocol"][data-dir="event"]')].map((li) => li.textContent).join("\n"));
    assert.match(protocol, /server selected subprotocol "wsauth"/);
    await page.click("#close-subprotocol");
    await waitStatus(page, "subprotocol", /^closed 1000 \(normal closure\)/);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("a ticket works once: replaying it from the page is refused (1006)", async () => {
  const { page, errors, username } = await loggedInPage("ticketonce");
  try {
    const result = await page.evaluate(async () => {
      const login = await fetch("/auth/login", {
        method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: document.getElementById("username").value, password: document.getElementById("password").value }),
      }).then((r) => r.json());
      const { ticket } = await fetch("/auth/ws-ticket", {
        method: "POST", credentials: "omit", headers: { Authorization: `Bearer ${login.access_token}` },
      }).then((r) => r.json());
      const url = `ws://${location.host}/ws?ticket=${encodeURIComponent(ticket)}`;
      const attempt = () => new Promise((resolve) => {
        const ws = new WebSocket(url);
        let first = null;
        ws.onmessage = (ev) => { if (first === null) { first = JSON.parse(ev.data); ws.close(1000); } };
        ws.onclose = (ev) => resolve({ code: ev.code, first });
      });
      return { first: await attempt(), replay: await attempt() };
    });
    assert.equal(result.first.first.type, "welcome");
    assert.equal(result.first.first.sub, username);
    assert.equal(result.first.first.credential, "ticket");
    assert.equal(result.replay.code, 1006);
    assert.equal(result.replay.first, null);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("in-band refresh: open token sockets get the new access token", async () => {
  const { page, errors, username } = await loggedInPage("refresh");
  try {
    await connectAndWelcome(page, "query", username);
    await connectAndWelcome(page, "subprotocol", username);
    const before = JSON.parse(await page.textContent("#claims"));
    await page.click("#refresh");
    await waitText(page, "#auth-status", /^Refreshed; new access token sent in-band to 2 socket\(s\)\./);
    const after = JSON.parse(await page.textContent("#claims"));
    assert.notEqual(after.jti, before.jti);
    assert.equal(after.fresh, false);
    for (const mode of ["query", "subprotocol"]) {
      await waitMessage(page, mode, (m) => m.type === "refreshed" && typeof m.exp === "number", null, "a refreshed frame");
      await waitStatus(page, mode, /^open, refreshed until /);
    }
    await echo(page, "query", "still here after refresh");
    await screenshot(page, "refresh");
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

test("log out everywhere closes the sockets of every login of the user", async () => {
  const username = newUsername("everywhere");
  await register(server.origin, username);
  const first = await openPage(browser.context, `${server.origin}/`);
  const second = await openPage(browser.context, `${server.origin}/`);
  try {
    await tokenLogin(first.page, username);
    await tokenLogin(second.page, username);
    await connectAndWelcome(first.page, "query", username);
    await connectAndWelcome(second.page, "subprotocol", username);
    await connectAndWelcome(second.page, "ticket", username);
    await first.page.click("#logout-all");
    await waitText(first.page, "#auth-status", /^Logged out everywhere\./);
    await waitStatus(first.page, "query", REVOKED);
    await waitStatus(second.page, "subprotocol", REVOKED);
    await waitStatus(second.page, "ticket", REVOKED);
    await screenshot(second.page, "logout-all");
    assert.deepEqual([...first.errors, ...second.errors], []);
  } finally {
    await first.page.close();
    await second.page.close();
  }
});

test("logging out one login leaves another login's socket open", async () => {
  const username = newUsername("onelogin");
  await register(server.origin, username);
  const first = await openPage(browser.context, `${server.origin}/`);
  const second = await openPage(browser.context, `${server.origin}/`);
  try {
    await tokenLogin(first.page, username);
    await tokenLogin(second.page, username);
    await connectAndWelcome(first.page, "query", username);
    await connectAndWelcome(second.page, "query", username);
    await first.page.click("#logout");
    await waitStatus(first.page, "query", REVOKED);
    await echo(second.page, "query", "the other login is untouched");
    assert.match(await second.page.textContent("#status-query"), /^open as /);
    assert.deepEqual([...first.errors, ...second.errors], []);
  } finally {
    await first.page.close();
    await second.page.close();
  }
});

test("first-message mode closes 4401 on a bad token and 4408 on silence", async () => {
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  try {
    const result = await page.evaluate(async () => {
      const attempt = (first) => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/ws/deferred`);
        const frames = [];
        ws.onopen = () => { if (first) ws.send(JSON.stringify(first)); };
        ws.onmessage = (ev) => frames.push(ev.data);
        ws.onclose = (ev) => resolve({ code: ev.code, reason: ev.reason, frames });
      });
      return Promise.all([attempt({ type: "auth", token: "not.a.token" }), attempt(null)]);
    });
    const [bad, silent] = result;
    assert.equal(bad.code, 4401, JSON.stringify(bad));
    assert.equal(silent.code, 4408, JSON.stringify(silent));
    assert.ok(![...bad.frames, ...silent.frames].some((f) => f.includes('"welcome"')));
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
  }
});

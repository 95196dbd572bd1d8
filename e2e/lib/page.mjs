// Drives the demo page through its stable element ids.
import { PASSWORD } from "./server.mjs";

/** Text of the page's frame log, for failure messages. */
async function frameLog(page) {
  return page.evaluate(() => [...document.querySelectorAll("#frames li")].slice(-15).map((li) => li.textContent).join("\n"));
}

async function waitOr(page, what, fn, arg, timeout) {
  try {
    await page.waitForFunction(fn, arg, { timeout });
  } catch (err) {
    const status = await page.evaluate(() =>
      [...document.querySelectorAll("output.status")].map((o) => `${o.id}: ${o.textContent}`).join("\n")
      + `\nauth-status: ${document.getElementById("auth-status").textContent}`);
    throw new Error(`timed out waiting for ${what}\n--- statuses ---\n${status}\n--- last frames ---\n${await frameLog(page)}`, { cause: err });
  }
}

export async function fillCredentials(page, username, password = PASSWORD) {
  await page.fill("#username", username);
  await page.fill("#password", password);
}

/** Token login (POST /auth/login) through the page. */
export async function tokenLogin(page, username, password = PASSWORD) {
  await fillCredentials(page, username, password);
  await page.click("#login");
  await waitText(page, "#session-mode", new RegExp(`^token \\(bearer\\) as ${username}$`));
}

/** Cookie login (POST /auth/cookie/login) through the page. */
export async function cookieLogin(page, username, password = PASSWORD) {
  await fillCredentials(page, username, password);
  await page.click("#cookie-login");
  await waitText(page, "#session-mode", new RegExp(`^cookie as ${username}$`));
}

/** Waits until the element's text matches `re`. */
export async function waitText(page, selector, re, timeout) {
  await waitOr(page, `${selector} to match ${re}`,
    ([sel, src, flags]) => { const el = document.querySelector(sel); return !!el && new RegExp(src, flags).test(el.textContent); },
    [selector, re.source, re.flags], timeout);
}

/** Waits until the socket status of `mode` matches `re`. */
export async function waitStatus(page, mode, re, timeout) {
  await waitText(page, `#status-${mode}`, re, timeout);
}

/** Waits for a logged frame of `mode` and direction `dir` ("in", "out", "event", "close") containing `text`. */
export async function waitFrame(page, mode, dir, text, timeout) {
  await waitOr(page, `a "${dir}" frame on ${mode} containing ${text}`,
    ([m, d, t]) => [...document.querySelectorAll(`#frames li[data-mode="${m}"][data-dir="${d}"]`)].some((li) => li.textContent.includes(t)),
    [mode, dir, text], timeout);
}

/** The received frames of `mode`, parsed as JSON where possible. */
export async function inFrames(page, mode) {
  const texts = await page.evaluate((m) =>
    [...document.querySelectorAll(`#frames li[data-mode="${m}"][data-dir="in"]`)].map((li) => li.textContent), mode);
  return texts.map((t) => {
    const raw = t.slice(t.indexOf(" ← ") + 3);
    try { return JSON.parse(raw); } catch { return raw; }
  });
}

/** Connects in `mode` and waits for the welcome frame. */
export async function connectAndWelcome(page, mode, username) {
  await page.click(`#connect-${mode}`);
  await waitStatus(page, mode, new RegExp(`^open as ${username} via `));
  await waitFrame(page, mode, "in", '"type":"welcome"');
}

/** Sends an echo from the page and waits for it to come back on `mode`. */
export async function echo(page, mode, text) {
  await page.fill("#echo-input", text);
  await page.click("#send-echo");
  await waitMessage(page, mode, (msg, t) => msg.type === "echo" && msg.data === t, text, `echo of ${text}`);
}

/**
 * Waits for a received JSON frame on `mode` for which `predicate(msg, arg)` holds. The
 * predicate runs here in Node on the page's logged frames: rebuilding it inside the page
 * would compile code from a string, which the page's CSP (no 'unsafe-eval') refuses.
 */
export async function waitMessage(page, mode, predicate, arg, what = "a matching frame", timeout = 15_000) {
  const deadline = Date.now() + timeout;
  const holds = (msg) => {
    try { return msg !== null && typeof msg === "object" && predicate(msg, arg); } catch { return false; }
  };
  while (!(await inFrames(page, mode)).some(holds)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} on ${mode}\n--- last frames ---\n${await frameLog(page)}`);
    }
    await page.waitForTimeout(100);
  }
}

/** The entries of the page's channel log: each `#channel-log li`'s data attributes and text. */
export async function channelLog(page) {
  return page.evaluate(() => [...document.querySelectorAll("#channel-log li")].map((li) => ({ ...li.dataset, text: li.textContent })));
}

/**
 * Waits for a channel log entry whose data attributes include `attrs` (for example
 * `{type: "message", channel: "room:1", from: "bob"}`) and whose text contains `text`.
 */
export async function waitChannel(page, attrs, text = "", timeout) {
  try {
    await page.waitForFunction(([a, t]) => [...document.querySelectorAll("#channel-log li")].some((li) =>
      Object.entries(a).every(([k, v]) => li.dataset[k] === v) && li.textContent.includes(t)), [attrs, text], { timeout, polling: 100 });
  } catch (err) {
    const log = (await channelLog(page)).slice(-15).map((e) => e.text).join("\n");
    throw new Error(`timed out waiting for a channel log entry ${JSON.stringify(attrs)} containing "${text}"\n--- channel log ---\n${log}`, { cause: err });
  }
}

/** Types a channel name (and data, for a publish) into the channels panel and clicks `action`'s button. */
export async function channelAction(page, action, channel, data) {
  await page.fill("#channel-name", channel);
  if (data !== undefined) await page.fill("#channel-data", data);
  await page.click(`#channel-${action}`);
}

/** The subscriptions the page lists, as {mode, channel, actions}. */
export async function subscriptions(page) {
  return page.evaluate(() => [...document.querySelectorAll("#subscriptions li")].map((li) =>
    ({ mode: li.dataset.mode, channel: li.dataset.channel, actions: li.dataset.actions })));
}

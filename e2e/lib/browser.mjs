// Debian's Chromium driven by playwright-core, one fresh profile per context.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { E2E_DIR } from "./server.mjs";

const EXECUTABLE = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
export const SCREENSHOT_DIR = join(E2E_DIR, "screenshots");

/**
 * Launches Chromium with a fresh --user-data-dir and returns its context.
 * @returns {Promise<{context: import("playwright-core").BrowserContext, close: () => Promise<void>}>}
 */
export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), "wsauth-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: EXECUTABLE,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 1000 },
  });
  context.setDefaultTimeout(15_000);
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens a page and records what went wrong in it, so a test can assert there was nothing:
 * `errors` holds uncaught page errors and every Content-Security-Policy violation (both the
 * page's `securitypolicyviolation` events and Chromium's "Content Security Policy" console
 * errors); `violations` holds the events alone, as {directive, blocked, sample}.
 * `setup(page)` runs before the navigation (to add routes, say).
 */
export async function openPage(context, url, { setup } = {}) {
  const page = await context.newPage();
  const errors = [];
  const violations = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  await page.exposeFunction("__wsauthCspViolation", (v) => {
    violations.push(v);
    errors.push(`securitypolicyviolation: ${v.directive} blocked ${v.blocked || "(inline)"}`);
  });
  await page.addInitScript(() => {
    window.addEventListener("securitypolicyviolation", (ev) => {
      window.__wsauthCspViolation({ directive: ev.effectiveDirective, blocked: ev.blockedURI, sample: ev.sample });
    }, true);
  });
  if (setup) await setup(page);
  await page.goto(url);
  return { page, errors, violations };
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

// Starts the real wsauth binary on a free loopback port with a fresh data dir.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const E2E_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_ROOT = dirname(E2E_DIR);
export const PAGE_PATH = join(REPO_ROOT, "crates/wsauth-server/assets/index.html");
export const BROWSER_CLIENT_PATH = join(REPO_ROOT, "examples/clients/browser_client.js");
const BIN = process.env.WSAUTH_BIN || join(REPO_ROOT, "target/debug/wsauth");
const READY = /^wsauth listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/;

/**
 * Starts `wsauth serve --listen 127.0.0.1:0 --data-dir <tmp>` and resolves once it prints
 * `wsauth listening on http://127.0.0.1:PORT`.
 * @returns {Promise<{origin: string, host: string, port: number, secret: string, stop: () => Promise<void>, logs: () => string}>}
 */
export async function startServer({ args = [], env = {}, timeoutMs = 60_000 } = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} not found: run \`cargo build -p wsauth-server\` first`);
  const dataDir = mkdtempSync(join(tmpdir(), "wsauth-e2e-"));
  const secret = randomBytes(32).toString("hex");
  const child = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir, ...args], {
    env: { ...process.env, WSAUTH_HMAC_SECRET: secret, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const origin = await new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`wsauth did not get ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = READY.exec(line);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      }
    });
    child.stderr.on("data", (chunk) => { output += chunk; });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`wsauth exited early (code ${code}, signal ${signal}):\n${output}`));
    });
  });
  let stopping = false;
  child.on("exit", (code, signal) => {
    if (!stopping) console.error(`wsauth exited unexpectedly (code ${code}, signal ${signal}); its output:\n${output}`);
  });
  const url = new URL(origin);
  return {
    origin,
    host: url.host,
    port: Number(url.port),
    secret,
    logs: () => output,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A fresh username for each test, valid for the server's rules. */
export function newUsername(prefix = "user") {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${randomBytes(3).toString("hex")}`;
}

export const PASSWORD = "correct horse battery";

/** Registers a user over the HTTP API. */
export async function register(origin, username, password = PASSWORD) {
  const res = await fetch(`${origin}/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 201) throw new Error(`register ${username}: ${res.status} ${await res.text()}`);
  return res.json();
}

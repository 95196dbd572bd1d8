// A small browser client for wsauth, in ticket mode.
//
// Ticket mode is the one to prefer in browsers: the page trades its access token
// for a random one-time ticket over HTTP, then opens the WebSocket with
// `?ticket=`. The ticket lives a few seconds and works once, so the URL is
// useless to anyone who reads it in a log afterwards, and the JWT itself never
// travels on the WebSocket.
//
// Usage from a page served by (or allowed by) the wsauth server:
//
//   <script type="module">
//     import { login, connectWithTicket } from "./browser_client.js";
//     const tokens = await login("alice", "correct horse battery");
//     const client = await connectWithTicket(tokens.access_token, {
//       onMessage: (msg) => console.log("<-", msg),
//       onClose: (ev) => console.log("closed", ev.code, describeClose(ev.code)),
//     });
//     console.log("welcome", client.welcome);
//     console.log(await client.request({ type: "echo", data: "hi" }));
//     client.close();
//   </script>
//
// `server` defaults to the page's own host; pass e.g. "127.0.0.1:8000" to target another.

const CLOSE_MEANINGS = {
  1000: "normal closure",
  1001: "server going away",
  1006: "abnormal closure: handshake refused or connection lost",
  1008: "policy violation",
  1009: "message too big",
  1011: "server error",
  1013: "try again later",
  4001: "token expired",
  4003: "token revoked",
  4401: "authentication failed",
  4403: "subject mismatch",
  4408: "authentication timeout",
};

/** A human meaning for a WebSocket close code. */
export function describeClose(code) {
  return CLOSE_MEANINGS[code] || (code >= 4000 ? "application-defined" : "unknown");
}

function bases(server) {
  const host = server || location.host;
  const secure = location.protocol === "https:";
  return { http: `${secure ? "https" : "http"}://${host}`, ws: `${secure ? "wss" : "ws"}://${host}` };
}

async function postJson(url, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method: "POST",
    // Bearer requests carry no cookies: the server refuses two disagreeing credentials.
    credentials: "omit",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error(`${url}: ${res.status} ${(data && data.detail) || res.statusText}`);
    err.status = res.status;
    err.code = data && data.error;
    throw err;
  }
  return data;
}

/** POST /auth/login: resolves with `{access_token, refresh_token, token_type, expires_in}`. */
export function login(username, password, { server } = {}) {
  return postJson(`${bases(server).http}/auth/login`, { body: { username, password } });
}

/** POST /auth/ws-ticket: resolves with `{ticket, expires_in}`. */
export function fetchTicket(accessToken, { server } = {}) {
  return postJson(`${bases(server).http}/auth/ws-ticket`, { token: accessToken });
}

/**
 * Gets a ticket, opens `/ws?ticket=…` and resolves once the welcome frame has arrived.
 * Rejects with the close code if the socket ends first (a refused handshake is 1006 in
 * browsers: they never show the HTTP status).
 *
 * Resolves with `{socket, welcome, send(msg), request(msg), close()}`; `request` sends a
 * JSON message and resolves with the next frame the server sends back.
 */
export async function connectWithTicket(accessToken, { server, onMessage, onClose } = {}) {
  const { ticket } = await fetchTicket(accessToken, { server });
  const socket = new WebSocket(`${bases(server).ws}/ws?ticket=${encodeURIComponent(ticket)}`);
  const waiting = [];
  return new Promise((resolve, reject) => {
    let welcome = null;
    socket.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { msg = ev.data; }
      if (welcome === null) {
        welcome = msg;
        resolve({
          socket,
          welcome,
          send: (m) => socket.send(JSON.stringify(m)),
          request: (m) => new Promise((res) => { waiting.push(res); socket.send(JSON.stringify(m)); }),
          close: (code = 1000, reason = "") => socket.close(code, reason),
        });
        return;
      }
      if (onMessage) onMessage(msg);
      const next = waiting.shift();
      if (next) next(msg);
    };
    socket.onclose = (ev) => {
      if (onClose) onClose(ev);
      if (welcome === null) {
        const err = new Error(`closed ${ev.code} (${describeClose(ev.code)}) before the welcome frame`);
        err.closeCode = ev.code;
        reject(err);
      }
    };
  });
}

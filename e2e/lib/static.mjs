// A tiny static server that serves one HTML page from another origin.
import { createServer } from "node:http";

/** Serves `html` at every path on 127.0.0.1:<free port>. */
export async function startStaticPage(html) {
  const server = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

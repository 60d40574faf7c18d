import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../support/fixtures.js";

/** How many bytes of request data the server lets a fresh connection send before it reads any (its connection window as the client sees it). */
async function connectionWindow(port: number): Promise<number> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    await new Promise<void>((resolve, reject) => {
      session.once("error", reject);
      // the server's WINDOW_UPDATE follows its SETTINGS; a ping round trip after connecting has seen both
      session.once("connect", () => session.ping((err) => (err ? reject(err) : resolve())));
    });
    return session.state.remoteWindowSize!;
  } finally {
    session.close();
  }
}

describe("HTTP/2 flow control", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let small: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    server = await startServer([]);
    small = await startServer(["--http2-connection-window-bytes", "1000000"]);
  });
  afterAll(async () => {
    await server?.stop();
    await small?.stop();
  });

  it("opens each connection's window to http2ConnectionWindowBytes, not HTTP/2's 65535, so a busy connection is not throttled to a window per round trip", async () => {
    expect(server.config.http2ConnectionWindowBytes).toBe(16 * 1024 * 1024);
    expect(await connectionWindow(server.app.grpcPort)).toBe(16 * 1024 * 1024);
    expect(await connectionWindow(small.app.grpcPort)).toBe(1_000_000);
  });
});

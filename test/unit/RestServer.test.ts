import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ErrorKind, ServingError } from "../../src/core/errors.js";
import { RestServer } from "../../src/rest/RestServer.js";
import type { RestRouter } from "../../src/rest/restRoutes.js";

/** A router whose one path /v2/fail/{kind} throws that error (or a plain Error for "bug"), and /v2/echo answers the body's length. */
const router: RestRouter = (path) => {
  const [, v2, what, kind] = path.split("/");
  if (v2 !== "v2") return undefined;
  const model = { name: "", version: "" };
  if (what === "echo") return { model, methods: { POST: (r, ctx) => ({ status: 200, json: { bytes: r.body.length, tenant: ctx.tenant } }) } };
  if (what !== "fail") return undefined;
  return {
    model,
    methods: {
      GET: () => {
        if (kind === "bug") throw new Error("secret internals");
        throw new ServingError(kind as ErrorKind, `${kind} happened ${"x".repeat(kind === "invalid_argument" ? 2000 : 0)}`);
      },
    },
  };
};

describe("RestServer", () => {
  let server: RestServer;
  let base: string;
  beforeAll(async () => {
    server = new RestServer(router, {
      host: "127.0.0.1",
      port: 0,
      maxBodyBytes: 1000,
      requestTimeoutMs: 5000,
      keepAliveTimeoutMs: 5000,
      tenantHeader: "x-tenant",
      retryAfterSeconds: 2,
      log: pino({ level: "silent" }),
    });
    base = `http://127.0.0.1:${await server.listen()}`;
  });
  afterAll(() => server.shutdown(0));

  it("maps each domain error to its HTTP status in one place, with Retry-After on refusals", async () => {
    const expected: Record<string, number> = {
      invalid_argument: 400,
      failed_precondition: 400,
      not_found: 404,
      resource_exhausted: 429,
      cancelled: 499,
      internal: 500,
      unavailable: 503,
      deadline_exceeded: 504,
      bug: 500,
    };
    for (const [kind, status] of Object.entries(expected)) {
      const res = await fetch(`${base}/v2/fail/${kind}`);
      expect(res.status, kind).toBe(status);
      const body = (await res.json()) as { error: string };
      expect(res.headers.get("retry-after"), kind).toBe(status === 429 || status === 503 ? "2" : null);
      if (kind === "bug") expect(body.error).toBe("internal error (see server log)");
      else expect(body.error).toMatch(new RegExp(`^${kind} happened`));
      expect(body.error.length).toBeLessThanOrEqual(512);
    }
  });

  it("bounds the body by maxBodyBytes and reads the tenant header", async () => {
    const ok = await fetch(`${base}/v2/echo`, { method: "POST", body: "x".repeat(1000), headers: { "x-tenant": "team-a" } });
    expect(await ok.json()).toEqual({ bytes: 1000, tenant: "team-a" });
    const big = await fetch(`${base}/v2/echo`, { method: "POST", body: "x".repeat(1001) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe("request body: Content-Length 1001 is larger than maxMessageBytes (1000 bytes)");
  });
});

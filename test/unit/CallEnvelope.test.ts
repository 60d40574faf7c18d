import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Cancellation } from "../../src/core/Cancellation.js";
import { ServingError } from "../../src/core/errors.js";
import { CallEnvelope } from "../../src/grpc/CallEnvelope.js";
import { UndecodableMessage } from "../../src/grpc/tolerantDecoding.js";

function capture() {
  const lines: Record<string, any>[] = [];
  return { lines, log: pino({ level: "debug" }, { write: (l: string) => void lines.push(JSON.parse(l)) }) };
}

/** The parts of a grpc-js unary call the envelope uses. */
function unaryCall(request: unknown) {
  const call = Object.assign(new EventEmitter(), { request, getDeadline: () => Infinity });
  const answer = new Promise<{ err: grpc.ServiceError | null; res?: unknown }>((resolve) => {
    (call as any).cb = (err: grpc.ServiceError | null, res?: unknown) => resolve({ err, res });
  });
  return { call, answer, cb: (call as any).cb };
}

describe("CallEnvelope.unary", () => {
  it("answers a domain error with its code, and an unexpected error with INTERNAL, logged with its cause", async () => {
    const { lines, log } = capture();
    const env = new CallEnvelope(log);
    const bad = unaryCall({});
    env.unary("Classify", () => {
      throw new ServingError("not_found", "no such model");
    })(bad.call as any, bad.cb);
    expect((await bad.answer).err).toMatchObject({ code: grpc.status.NOT_FOUND, details: "no such model" });
    const broken = unaryCall({});
    env.unary("Classify", async () => {
      throw new TypeError("cannot read x of undefined");
    })(broken.call as any, broken.cb);
    expect((await broken.answer).err).toMatchObject({ code: grpc.status.INTERNAL, details: "internal error (see server log)" });
    const logged = lines.find((l) => l.level === 50);
    expect(logged).toMatchObject({ method: "Classify", err: { message: "cannot read x of undefined", type: "TypeError" } });
    expect(lines).toHaveLength(1); // the domain error is the client's business, not logged
  });

  it("answers an undecodable request with INVALID_ARGUMENT without calling the handler", async () => {
    const env = new CallEnvelope(capture().log);
    const c = unaryCall(new UndecodableMessage("ranet.v1.ClassifyRequest", "index out of range", 3));
    let called = false;
    env.unary("Classify", () => (called = true))(c.call as any, c.cb);
    expect((await c.answer).err).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "the request is not a valid ranet.v1.ClassifyRequest (3 bytes): index out of range",
    });
    expect(called).toBe(false);
  });

  it("aborts the handler's signal when the client cancels", async () => {
    const env = new CallEnvelope(capture().log);
    const c = unaryCall({});
    let cancellation: Cancellation | undefined;
    env.unary("Classify", (_req, ctx) => {
      cancellation = ctx.cancellation;
      return new Promise(() => {});
    })(c.call as any, c.cb);
    await Promise.resolve();
    expect(cancellation!.cancelled).toBe(false);
    c.call.emit("cancelled");
    expect(cancellation!.cancelled).toBe(true);
  });
});

/** A duplex call stand-in: paused/resumed state, written answers, events. */
class FakeStream extends EventEmitter {
  paused = false;
  cancelled = false;
  writableNeedDrain = false;
  written: any[] = [];
  ended = false;
  getDeadline = () => Infinity;
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  isPaused() {
    return this.paused;
  }
  write(x: unknown) {
    this.written.push(x);
    return true;
  }
  end() {
    this.ended = true;
  }
}

describe("CallEnvelope.itemStream", () => {
  it("stops reading at maxInflight items, resumes below it, and answers every item", async () => {
    const env = new CallEnvelope(capture().log);
    const release: (() => void)[] = [];
    const handler = env.itemStream(
      "ClassifyStream",
      (req: { request_id: string }) => new Promise((r) => release.push(() => r({ request_id: req.request_id }))),
      {
        maxInflight: 2,
        errorItem: (id, s) => ({ request_id: id, error: s }),
      },
    );
    const call = new FakeStream();
    handler(call as any);
    call.emit("data", { request_id: "a" });
    expect(call.paused).toBe(false);
    call.emit("data", { request_id: "b" });
    expect(call.paused).toBe(true); // two in flight: no more reading
    await new Promise((r) => setImmediate(r));
    release.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(call.paused).toBe(false);
    call.emit("data", new UndecodableMessage("ranet.v1.ClassifyRequest", "bad", 3));
    call.emit("end");
    await new Promise((r) => setImmediate(r));
    release.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(call.written.map((w) => w.request_id)).toEqual(["a", "", "b"]);
    expect(call.written[1].error).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^stream message 2: the request is not a valid/),
    });
    expect(call.ended).toBe(true);
  });

  it("stops reading while the client does not read its answers", async () => {
    const env = new CallEnvelope(capture().log);
    const handler = env.itemStream("ClassifyStream", async (req: { request_id: string }) => ({ request_id: req.request_id }), {
      maxInflight: 100,
      errorItem: (id) => ({ request_id: id }),
    });
    const call = new FakeStream();
    call.writableNeedDrain = true;
    handler(call as any);
    call.emit("data", { request_id: "a" });
    expect(call.paused).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(call.paused).toBe(true); // answered, but the answers are not being read
    call.writableNeedDrain = false;
    call.emit("drain");
    expect(call.paused).toBe(false);
  });
});

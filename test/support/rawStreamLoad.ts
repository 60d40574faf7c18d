import { connect } from "node:http2";
import { inFlightPerStream, LoadRecord, type LoadResult } from "./loadRecord.js";

/**
 * The cheapest ClassifyStream load generator this repository has: node:http2 with hand-made
 * gRPC frames instead of @grpc/grpc-js. A request is a pre-encoded ranet.v1 ClassifyRequest
 * without request_id; the client prepends a request_id, sends all the requests that one read's
 * answers free in one write, and reads only request_id, exit, flops and error.code from the
 * answers. It exists so that a benchmark's load generator takes as little of the server's cores
 * as possible (runLoad's api "h2stream"). In bench:serve at the adaptive 50% target it used
 * 0.09-0.10 of the 2 cores where the grpc-js client used 0.16-0.17, and against a server that
 * answers at once it reached about twice the grpc-js client's rate (docs/results/benchmarks.md).
 */

export interface RawStreamLoadOptions {
  /** host:port of the server. */
  address: string;
  /** Requests in flight in all, spread over `streams` ClassifyStream calls. */
  concurrency: number;
  streams?: number;
  durationMs: number;
  warmupMs?: number;
  onWindow?: (edge: "start" | "end") => void;
  /** Request i as protobuf bytes, without its request_id (rawGrpc.ts `encode("ranet.v1.ClassifyRequest", ...)`). */
  body: (i: number) => Buffer;
  /** Pause before a refused request is sent again (as the API asks of clients). */
  retryBackoffMs: number;
}

interface Answer {
  id: number;
  exit: number;
  flops: number;
  errorCode: number;
}

/** Reads a varint at `pos`; returns [value, next position]. Values past 2^53 lose precision (flops never get there). */
function readVarint(b: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  let p = pos;
  for (;;) {
    const byte = b[p++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, p];
    scale *= 0x80;
  }
}

function decodeAnswer(b: Buffer, start: number, end: number): Answer {
  const a: Answer = { id: -1, exit: 0, flops: 0, errorCode: 0 };
  let p = start;
  while (p < end) {
    let key: number;
    [key, p] = readVarint(b, p);
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) {
      let v: number;
      [v, p] = readVarint(b, p);
      if (field === 5) a.exit = v;
      else if (field === 6) a.flops = v;
    } else if (wire === 2) {
      let len: number;
      [len, p] = readVarint(b, p);
      if (field === 1) a.id = Number(b.toString("latin1", p, p + len));
      else if (field === 12) a.errorCode = errorCodeOf(b, p, p + len);
      p += len;
    } else if (wire === 5) p += 4;
    else if (wire === 1) p += 8;
    else throw new Error(`unexpected protobuf wire type ${wire} in a ClassifyResponse`);
  }
  return a;
}

function errorCodeOf(b: Buffer, start: number, end: number): number {
  let p = start;
  while (p < end) {
    let key: number;
    [key, p] = readVarint(b, p);
    if (key === 0x08) return readVarint(b, p)[0];
    const wire = key & 7;
    if (wire === 0) p = readVarint(b, p)[1];
    else if (wire === 2) {
      const [len, q] = readVarint(b, p);
      p = q + len;
    } else return -1;
  }
  return -1;
}

/** Closed loop over ClassifyStream: each answer is replaced by the next request at once. */
export async function runRawStreamLoad(o: RawStreamLoadOptions): Promise<LoadResult> {
  const session = connect(`http://${o.address}`);
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  const streams = Math.min(o.streams ?? 4, o.concurrency);
  let next = 0;
  let stop = false;
  const sentAt = new Map<number, number>();
  const record = new LoadRecord();

  const frameOf = (i: number): Buffer => {
    const id = Buffer.from(String(i), "latin1");
    const body = o.body(i);
    const msgLen = 2 + id.length + body.length;
    const head = Buffer.allocUnsafe(5 + 2 + id.length);
    head[0] = 0;
    head.writeUInt32BE(msgLen, 1);
    head[5] = 0x0a;
    head[6] = id.length;
    id.copy(head, 7);
    return Buffer.concat([head, body]);
  };

  const one = (inflight: number) =>
    new Promise<void>((resolve, reject) => {
      const call = session.request({
        ":method": "POST",
        ":path": "/ranet.v1.Classifier/ClassifyStream",
        "content-type": "application/grpc",
        te: "trailers",
      });
      let pending: Buffer = Buffer.alloc(0);
      let open = 0;
      const send = (count: number) => {
        if (count === 0) return;
        const frames: Buffer[] = [];
        const now = performance.now();
        for (let k = 0; k < count; k++) {
          const i = next++;
          sentAt.set(i, now);
          frames.push(frameOf(i));
        }
        open += count;
        call.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
      };
      call.on("data", (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let p = 0;
        let answered = 0;
        let refused = 0;
        const now = performance.now();
        while (pending.length - p >= 5) {
          const len = pending.readUInt32BE(p + 1);
          if (pending.length - p - 5 < len) break;
          const a = decodeAnswer(pending, p + 5, p + 5 + len);
          p += 5 + len;
          answered++;
          if (a.errorCode !== 0) refused++;
          const t0 = sentAt.get(a.id);
          sentAt.delete(a.id);
          if (a.errorCode !== 0) record.refused(String(a.errorCode));
          else record.answered(a.exit, a.flops, t0 === undefined ? undefined : now - t0);
        }
        pending = pending.subarray(p);
        open -= answered;
        if (!stop) {
          send(answered - refused);
          if (refused > 0) {
            open += refused; // counted as in flight while they wait
            setTimeout(() => {
              open -= refused;
              if (!stop) send(refused);
              else if (open === 0) call.end();
            }, o.retryBackoffMs);
          }
        } else if (open === 0) call.end();
      });
      let grpcStatus = "0";
      let grpcMessage = "";
      call.on("trailers", (t) => {
        grpcStatus = String(t["grpc-status"] ?? "0");
        grpcMessage = decodeURIComponent(String(t["grpc-message"] ?? ""));
      });
      call.on("end", () => (grpcStatus === "0" ? resolve() : reject(new Error(`ClassifyStream ended with grpc-status ${grpcStatus}: ${grpcMessage}`))));
      call.on("error", reject);
      call.on("response", (headers) => {
        if (headers[":status"] !== 200) reject(new Error(`ClassifyStream answered HTTP ${headers[":status"]}`));
        // a trailers-only answer: the call failed before any message
        if (headers["grpc-status"] !== undefined) {
          grpcStatus = String(headers["grpc-status"]);
          grpcMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
        }
      });
      send(inflight);
    });

  const calls = inFlightPerStream(o.concurrency, streams).map(one);
  const seconds = await record.measure(o);
  stop = true;
  await Promise.all(calls);
  session.close();
  return record.result(seconds);
}

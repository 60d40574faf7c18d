/**
 * A Classifier that answers every request with a constant response, over this project's proto
 * with grpc-js and proto-loader as the server uses them. Two modes:
 *
 * - at once (default): the load generator's own ceiling (what it can send and receive when the
 *   server costs nothing);
 * - `--hand-off [--reply-after-ms MS] [--reply-group N]`: each request's tensor bytes go to a
 *   worker thread in one postMessage (a copy, transferred), the worker replies MS later (default
 *   0), and the answer is written when the reply comes back: the least a front that reads
 *   requests on its main thread and computes elsewhere spends there per answer, the floor of the
 *   served rows' main-thread CPU per answer. The delay lets a closed-loop load run it at a served
 *   row's answer rate (per-answer costs fall as more requests share an event-loop turn, so a
 *   floor is compared at equal rates). With N > 1 (default 1) the worker replies for up to N
 *   requests in one message, MS after the first of them, as an engine answers a batch.
 *
 * Prints its port on stdout.
 */

import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import * as grpc from "@grpc/grpc-js";
import type { ProtoGrpcType } from "../../src/generated/classifier.js";
import { loadProtos } from "../../src/grpc/protos.js";
import { arg } from "./cli.js";

interface Request {
  request_id: string;
  tensor?: { data?: Uint8Array };
}

if (!isMainThread) {
  // the worker: replies for up to `group` hand-offs in one message, `replyAfterMs` after the first of them
  const { replyAfterMs, group } = workerData as { replyAfterMs: number; group: number };
  let open: number[] | undefined;
  parentPort!.on("message", (m: { id: number }) => {
    if (!open) {
      const ids: number[] = [];
      open = ids;
      setTimeout(() => {
        if (open === ids) open = undefined;
        parentPort!.postMessage(ids);
      }, replyAfterMs);
    }
    open.push(m.id);
    if (open.length >= group) open = undefined;
  });
} else {
  const handOff = process.argv.includes("--hand-off");
  const worker = handOff
    ? new Worker(`import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`, {
        eval: true,
        workerData: { replyAfterMs: Number(arg("reply-after-ms", "0")), group: Number(arg("reply-group", "1")) },
      })
    : undefined;
  const waiting = new Map<number, () => void>();
  let seq = 0;
  worker?.on("message", (ids: number[]) => {
    for (const id of ids) {
      const done = waiting.get(id);
      waiting.delete(id);
      done?.();
    }
  });
  /** Calls `answer` at once, or once a worker has had the request's tensor (`--hand-off`). */
  const after = (r: Request, answer: () => void): void => {
    if (!worker) {
      answer();
      return;
    }
    const id = ++seq;
    const data = Uint8Array.from(r.tensor?.data ?? []);
    waiting.set(id, answer);
    worker.postMessage({ id, data }, [data.buffer]);
  };

  const pkg = grpc.loadPackageDefinition(loadProtos()) as unknown as ProtoGrpcType;
  const server = new grpc.Server({ "grpc.max_receive_message_length": 64 << 20 });
  const answer = (request_id: string) => ({ request_id, class_index: 1, label: "x", confidence: 1, exit: 1, flops: 1 });
  server.addService(pkg.ranet.v1.Classifier.service, {
    Classify: (call: grpc.ServerUnaryCall<Request, unknown>, cb: grpc.sendUnaryData<unknown>) =>
      after(call.request, () => cb(null, answer(call.request.request_id))),
    ClassifyStream: (call: grpc.ServerDuplexStream<Request, unknown>) => {
      let open = 0;
      let ended = false;
      call.on("data", (r: Request) => {
        open++;
        after(r, () => {
          call.write(answer(r.request_id));
          if (--open === 0 && ended) call.end();
        });
      });
      call.on("end", () => {
        ended = true;
        if (open === 0) call.end();
      });
    },
    GetModelMetadata: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}),
  });
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    process.stdout.write(`${port}\n`);
  });
}

import * as grpc from "@grpc/grpc-js";
import type { ClassifierClient } from "../../src/generated/ranet/v1/Classifier.js";
import type { ClassifyResponse__Output } from "../../src/generated/ranet/v1/ClassifyResponse.js";

/**
 * Sends `requests` over one ClassifyStream keeping `inFlight` outstanding (the server must allow
 * that many per stream: maxStreamInflight) and returns the answers in request order. One stream
 * keeps the order: the server receives the requests as sent (several streams would interleave
 * them). An item answered with an error rejects. `metadata` (e.g. a tenant header) goes with the stream.
 */
export function streamInOrder(
  client: ClassifierClient,
  requests: readonly object[],
  inFlight: number,
  metadata: Record<string, string> = {},
): Promise<ClassifyResponse__Output[]> {
  const answers = new Array<ClassifyResponse__Output>(requests.length);
  let next = 0;
  return new Promise((resolve, reject) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    const call = client.ClassifyStream(md);
    let outstanding = 0;
    const send = () => {
      if (next >= requests.length) {
        if (outstanding === 0) call.end();
        return;
      }
      outstanding++;
      call.write({ ...requests[next], request_id: String(next++) });
    };
    call.on("data", (r: ClassifyResponse__Output) => {
      if (r.error) return reject(new Error(`request ${r.request_id}: ${r.error.message}`));
      answers[Number(r.request_id)] = r;
      outstanding--;
      send();
    });
    call.on("end", () => resolve(answers));
    call.on("error", reject);
    for (let k = 0; k < inFlight; k++) send();
  });
}

/**
 * ClassifyStream soak: a server process on the bundled repository (adaptive at `--budget-target`),
 * `--streams` streams keeping `--in-flight` requests in flight together for `--seconds`; every
 * request_id is accounted for (sent, answered OK, answered with an error, never answered) and the
 * server's resident memory is sampled every minute. Prints a JSON summary; writes nothing.
 *
 *   npm run bench:soak -- [--seconds 600] [--streams 4] [--in-flight 64] [--budget-target 0.5]
 */
import { readFileSync } from "node:fs";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { makeClients } from "../src/cli/clients.js";
import type { ClassifyRequest } from "../src/generated/ranet/v1/ClassifyRequest.js";
import type { ClassifyResponse__Output } from "../src/generated/ranet/v1/ClassifyResponse.js";
import { parityFixtures, tensorBytes } from "../test/support/fixtures.js";
import { spawnBenchServer } from "./lib/benchServer.js";
import { arg, machine, runMain } from "./lib/cli.js";

const seconds = Number(arg("seconds", "600"));
const streams = Number(arg("streams", "4"));
const inFlight = Number(arg("in-flight", "64"));
const target = arg("budget-target", "0.5");

async function main(): Promise<void> {
  const server = spawnBenchServer(["--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--budget-target", target]);
  const { grpcPort } = await server.serving;
  const c = makeClients(`127.0.0.1:${grpcPort}`);
  const inputs = parityFixtures().map((f) => tensorBytes(f.input));
  const rssMiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.proc.pid}/status`, "utf8"))![1]) / 1024;
  const pending = new Set<string>();
  const codes: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let duplicates = 0;
  const end = Date.now() + seconds * 1000;
  const calls = Array.from({ length: streams }, (_, s) => {
    const call = c.classifier.ClassifyStream() as ClientDuplexStream<ClassifyRequest, ClassifyResponse__Output>;
    const send = () => {
      if (Date.now() >= end) return;
      const id = `${s}-${sent}`;
      pending.add(id);
      call.write({ request_id: id, tensor: { shape: [1, 28, 28], data: inputs[sent++ % inputs.length] } });
    };
    call.on("data", (r: ClassifyResponse__Output) => {
      if (!pending.delete(r.request_id)) duplicates++;
      if (r.error) codes[r.error.code] = (codes[r.error.code] ?? 0) + 1;
      else ok++;
      send();
    });
    const closed = new Promise<void>((resolve) => call.on("end", resolve).on("error", () => resolve()));
    for (let i = s; i < inFlight; i += streams) send();
    return { call, closed };
  });
  const t0 = Date.now();
  const rss: string[] = [`0 s: ${rssMiB().toFixed(0)} MiB`];
  const timer = setInterval(() => {
    rss.push(`${Math.round((Date.now() - t0) / 1000)} s: ${rssMiB().toFixed(0)} MiB, ${ok} answered`);
    process.stderr.write(`${rss.at(-1)}\n`);
  }, 60_000);
  await new Promise((r) => setTimeout(r, seconds * 1000 + 3000)); // and the last answers
  clearInterval(timer);
  for (const x of calls) x.call.end();
  await Promise.race([Promise.all(calls.map((x) => x.closed)), new Promise((r) => setTimeout(r, 10_000))]);
  c.close();
  await server.stop();
  console.log(
    JSON.stringify({ machine: machine(), seconds, streams, inFlight, target, sent, ok, errors: codes, unanswered: pending.size, duplicates, rss }, null, 1),
  );
}

runMain(main);

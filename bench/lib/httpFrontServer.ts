/**
 * A REST front that answers a binary-extension infer request at once (reads the body, parses its
 * JSON header, answers a fixed binary response): node:http, or fastify loaded from the folder
 * given as the second argument (fastify is not a dependency of this project). Prints its port.
 */
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import path from "node:path";

const [kind, fastifyDir] = process.argv.slice(2);
const header = Buffer.from(
  JSON.stringify({
    model_name: "m",
    model_version: "1",
    parameters: { exit: 2, flops: 7650428 },
    outputs: [{ name: "class", datatype: "INT64", shape: [1], parameters: { binary_data_size: 8 } }],
  }),
);
const answer = Buffer.concat([header, Buffer.alloc(8)]);
const answerHeaders = { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(header.length) };
const readHeader = (body: Buffer, length: unknown) => JSON.parse(body.subarray(0, Number(length)).toString());

if (kind === "node") {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => chunks.push(d));
    req.on("end", () => {
      readHeader(Buffer.concat(chunks), req.headers["inference-header-content-length"]);
      res.writeHead(200, { ...answerHeaders, "Content-Length": answer.length });
      res.end(answer);
    });
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
} else {
  const require = createRequire(path.resolve(fastifyDir ?? ".", "package.json"));
  const Fastify = require("fastify");
  const app = Fastify({ logger: false, keepAliveTimeout: 65_000, bodyLimit: 4 << 20 });
  app.addContentTypeParser("application/octet-stream", { parseAs: "buffer" }, (_req: unknown, body: Buffer, done: (e: null, b: Buffer) => void) =>
    done(null, body),
  );
  app.post("/v2/models/:name/infer", (req: { body: Buffer; headers: Record<string, string> }, reply: { headers(h: object): { send(b: Buffer): void } }) => {
    readHeader(req.body, req.headers["inference-header-content-length"]);
    reply.headers(answerHeaders).send(answer);
  });
  app.listen({ port: 0, host: "127.0.0.1" }).then(() => process.stdout.write(`${app.server.address().port}\n`));
}

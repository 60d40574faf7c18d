import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { echo, invalidArgument } from "../core/errors.js";

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/** A request body the server will not read: too large (413) or in an encoding it does not speak (415). */
export class BodyRefused extends Error {
  constructor(
    readonly status: 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The request's body, decoded from its Content-Encoding (gzip, deflate or identity), at most
 * `maxBytes` before and after decoding: a larger body (by its Content-Length, as it streams, or
 * as it inflates: a compression bomb stops at the limit) is refused unread. A damaged compressed
 * body is INVALID_ARGUMENT.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip" && encoding !== "deflate") {
    throw new BodyRefused(415, `Content-Encoding: expected gzip, deflate or identity, got ${echo(encoding)}`);
  }
  const declared = req.headers["content-length"];
  const tooLarge = (what: string) => new BodyRefused(413, `request body: ${what} is larger than maxMessageBytes (${maxBytes} bytes)`);
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(`Content-Length ${Number(declared)}`);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > maxBytes) throw tooLarge("the body");
    chunks.push(chunk as Buffer);
  }
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
  if (encoding === "identity") return raw;
  try {
    return await (encoding === "gzip" ? gunzip : inflate)(raw, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(`the ${encoding}-decoded body`);
    throw invalidArgument("body", `${encoding}-compressed data (Content-Encoding ${encoding})`, `damaged data (${(err as Error).message.slice(0, 80)})`);
  }
}

/** The encoding of a response to a client that sent `accept` (Accept-Encoding): gzip or deflate when it takes one, else none. */
export function responseEncoding(accept: string | undefined): "gzip" | "deflate" | undefined {
  if (!accept) return undefined;
  const taken = new Map<string, number>();
  for (const part of accept.split(",")) {
    const [token, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    taken.set(token!.trim(), q === undefined ? 1 : Number(q));
  }
  const ok = (name: string) => (taken.get(name) ?? taken.get("*") ?? 0) > 0;
  return ok("gzip") ? "gzip" : ok("deflate") ? "deflate" : undefined;
}

/** `body` compressed as `encoding`. */
export function compress(body: Buffer, encoding: "gzip" | "deflate"): Promise<Buffer> {
  return promisify(encoding === "gzip" ? zlib.gzip : zlib.deflate)(body, { level: 1 });
}

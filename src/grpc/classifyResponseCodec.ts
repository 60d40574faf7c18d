import type { ClassifyResponse } from "../generated/ranet/v1/ClassifyResponse.js";

/**
 * ClassifyResponse in protobuf wire format, written directly (every Classify and ClassifyStream
 * answer): proto-loader's serializer builds a protobufjs message object per answer and per top-k
 * entry first, the largest single cost of an answer on the main thread. Field numbers and types
 * are those of proto/ranet/v1/classifier.proto (ClassifyResponse, ClassProbability,
 * ExitPrediction, Error), each written when the object has it (null and undefined left out), in
 * field order: the bytes protobufjs writes for the same object. Returns undefined for a value
 * this writer does not take (a 64-bit integer given as string or Long, a number that is not a
 * safe non-negative integer where the proto has an integer), so the caller falls back to the
 * generic serializer. test/unit/classifyResponseCodec.test.ts compares its bytes with
 * protobufjs's.
 */
export function encodeClassifyResponse(r: ClassifyResponse): Buffer | undefined {
  const w = writer;
  w.pos = 0;
  try {
    w.text(1, r.request_id);
    w.uint(2, r.class_index);
    w.text(3, r.label);
    w.float(4, r.confidence);
    w.uint(5, r.exit);
    w.uint(6, r.flops);
    for (const p of r.top_k ?? []) {
      const at = w.open(7);
      w.uint(1, p.class_index);
      w.text(2, p.label);
      w.float(3, p.probability);
      w.close(at);
    }
    w.text(8, r.model_name);
    w.text(9, r.model_version);
    for (const e of r.exits ?? []) {
      const at = w.open(10);
      w.uint(1, e.exit);
      w.uint(2, e.class_index);
      w.text(3, e.label);
      w.float(4, e.confidence);
      w.uint(5, e.flops);
      w.uint(6, e.own_class_index);
      w.text(7, e.own_label);
      w.float(8, e.own_confidence);
      w.close(at);
    }
    w.text(11, r.exit_reason);
    if (r.error) {
      const at = w.open(12);
      w.uint(1, r.error.code);
      w.text(2, r.error.message);
      w.close(at);
    }
  } catch (err) {
    if (err === NOT_TAKEN) return undefined;
    throw err;
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** Thrown inside the writer for a value it does not take: the caller serializes generically. */
const NOT_TAKEN = new Error("not taken by the direct writer");

const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

/** One scratch buffer, grown as needed; each message is copied out of it when complete. */
class Writer {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;

  uint(field: number, v: unknown): void {
    if (v === undefined || v === null) return;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw NOT_TAKEN;
    this.room(16);
    this.varint((field << 3) | WIRE_VARINT);
    this.varint(v);
  }

  float(field: number, v: unknown): void {
    if (v === undefined || v === null) return;
    if (typeof v !== "number") throw NOT_TAKEN;
    this.room(10);
    this.varint((field << 3) | WIRE_FIXED32);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }

  text(field: number, s: string | undefined | null): void {
    if (s === undefined || s === null) return;
    if (typeof s !== "string") throw NOT_TAKEN;
    this.room(10 + 3 * s.length);
    this.varint((field << 3) | WIRE_LENGTH);
    const n = s.length;
    if (n < 128) {
      // one length byte; ASCII copied here, anything else by Buffer's UTF-8 writer
      const at = this.pos++;
      let ascii = true;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        this.buf[this.pos + i] = c;
      }
      const bytes = ascii ? n : this.buf.write(s, this.pos, "utf8");
      if (bytes < 128) {
        this.buf[at] = bytes;
        this.pos += bytes;
        return;
      }
      this.pos = at;
    }
    const bytes = Buffer.byteLength(s, "utf8");
    this.varint(bytes);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  /** Starts an embedded message in `field`; returns where its length goes (close writes it). */
  open(field: number): number {
    this.room(8);
    this.varint((field << 3) | WIRE_LENGTH);
    return this.pos++;
  }

  /** Ends the embedded message opened at `at`: its length, in as many bytes as it needs. */
  close(at: number): void {
    const length = this.pos - at - 1;
    if (length < 128) {
      this.buf[at] = length;
      return;
    }
    let size = 1;
    for (let v = length; v >= 128; v = Math.floor(v / 128)) size++;
    this.room(size);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos = at;
    this.varint(length);
    this.pos = at + size + length;
  }

  private varint(v: number): void {
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.pos++] = v;
  }

  private room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

const writer = new Writer();

import os from "node:os";

const LITTLE_ENDIAN = os.endianness() === "LE";

/** Reads float32 little-endian values (any byte alignment) into a new Float32Array. */
export function float32le(bytes: Uint8Array, count = Math.floor(bytes.byteLength / 4)): Float32Array {
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    // one memory copy: the bytes are already this machine's float32 layout, whatever their alignment
    new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

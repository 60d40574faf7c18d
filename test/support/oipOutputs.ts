/** ModelInfer's outputs by name, decoded from raw_output_contents (OIP's little-endian layouts; BYTES as UTF-8 strings). */
export function decodeOutputs(res: any): Record<string, { shape: number[]; values: (number | string)[] }> {
  const out: Record<string, { shape: number[]; values: (number | string)[] }> = {};
  res.outputs.forEach((o: any, i: number) => {
    const b: Buffer = res.raw_output_contents[i];
    const values: (number | string)[] = [];
    if (o.datatype === "INT64") for (let j = 0; j < b.length; j += 8) values.push(Number(b.readBigInt64LE(j)));
    else if (o.datatype === "INT32") for (let j = 0; j < b.length; j += 4) values.push(b.readInt32LE(j));
    else if (o.datatype === "FP32") for (let j = 0; j < b.length; j += 4) values.push(b.readFloatLE(j));
    else
      for (let j = 0; j < b.length; ) {
        const len = b.readUInt32LE(j);
        values.push(b.subarray(j + 4, j + 4 + len).toString("utf8"));
        j += 4 + len;
      }
    out[o.name] = { shape: o.shape, values };
  });
  return out;
}

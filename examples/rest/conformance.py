"""Checks a server's REST protocol against its gRPC one over a whole image set, as a client that
knows only the public specifications: KServe v2's REST API, Triton's binary tensor data extension,
and the Open Inference Protocol's gRPC messages (examples/kserve/grpc_predict_v2.proto). Each
batch of images goes three ways with the same parameters and a fixed exit (cycling through the
model's exits): REST with JSON tensors, REST with binary tensors both ways, and gRPC ModelInfer;
the labels, classes, exits and FLOPs must be equal, the confidences equal to 1e-5. Run with
Debian's Python after `apt-get install python3-requests python3-grpcio protobuf-compiler
dataset-fashion-mnist`, from the repository's root:

    mkdir -p /tmp/oip-py
    protoc -I examples/kserve --python_out=/tmp/oip-py examples/kserve/grpc_predict_v2.proto
    PYTHONPATH=/tmp/oip-py /usr/bin/python3 examples/rest/conformance.py localhost:8080 localhost:50051 ranet-fmnist

It prints progress every 1,000 images and a summary; it exits 1 at the first difference (naming
the image) and 2 when a server cannot be reached or refuses a request.
"""
import argparse
import gzip
import json
import struct
import sys
import time

import grpc
import grpc_predict_v2_pb2 as pb
import requests

OUTPUTS = ["label", "class", "exit", "flops", "confidence"]
FORMATS = {"INT64": "q", "INT32": "i", "FP32": "f"}


def read_idx_images(path):
    """An IDX3 file (the MNIST format) as a list of H*W byte strings, and (H, W)."""
    with gzip.open(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise ValueError(f"{path}: not an IDX3 image file (magic {magic})")
        data = f.read(n * h * w)
    return [data[i * h * w : (i + 1) * h * w] for i in range(n)], (h, w)


def decode(datatype, raw):
    """Raw little-endian tensor contents as a list (BYTES: UTF-8 strings)."""
    if datatype == "BYTES":
        out, at = [], 0
        while at < len(raw):
            (n,) = struct.unpack_from("<I", raw, at)
            out.append(raw[at + 4 : at + 4 + n].decode())
            at += 4 + n
        return out
    fmt = FORMATS[datatype]
    return list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw))


def refused(res):
    if res.status_code != 200:
        raise RuntimeError(f"REST HTTP {res.status_code}: {res.text[:300]}")


def rest_json(session, url, model, images, hw, exit_):
    body = {
        "parameters": {"exit": exit_},
        "inputs": [
            {"name": "image", "datatype": "UINT8", "shape": [len(images), *hw], "data": [list(b) for b in images]}
        ],
        "outputs": [{"name": n} for n in OUTPUTS],
    }
    res = session.post(f"{url}/v2/models/{model}/infer", json=body, timeout=60)
    refused(res)
    return {o["name"]: o["data"] for o in res.json()["outputs"]}


def rest_binary(session, url, model, images, hw, exit_):
    data = b"".join(images)
    header = json.dumps(
        {
            "parameters": {"exit": exit_, "binary_data_output": True},
            "inputs": [
                {
                    "name": "image",
                    "datatype": "UINT8",
                    "shape": [len(images), *hw],
                    "parameters": {"binary_data_size": len(data)},
                }
            ],
            "outputs": [{"name": n} for n in OUTPUTS],
        }
    ).encode()
    res = session.post(
        f"{url}/v2/models/{model}/infer",
        data=header + data,
        headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    refused(res)
    n = int(res.headers["Inference-Header-Content-Length"])
    doc, at, out = json.loads(res.content[:n]), n, {}
    for o in doc["outputs"]:
        size = o["parameters"]["binary_data_size"]
        out[o["name"]] = decode(o["datatype"], res.content[at : at + size])
        at += size
    return out


def grpc_infer(stub, model, images, hw, exit_):
    req = pb.ModelInferRequest(
        model_name=model, outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=n) for n in OUTPUTS]
    )
    req.inputs.add(name="image", datatype="UINT8", shape=[len(images), *hw])
    req.raw_input_contents.append(b"".join(images))
    req.parameters["exit"].int64_param = exit_
    res = stub(req, timeout=60)
    return {t.name: decode(t.datatype, res.raw_output_contents[i]) for i, t in enumerate(res.outputs)}


def compare(first, ways, names):
    """The first difference between the ways' answers, as text, or None."""
    ref_name, ref = names[0], ways[0]
    for name, got in zip(names[1:], ways[1:]):
        for out in OUTPUTS:
            for i, (a, b) in enumerate(zip(ref[out], got[out])):
                same = abs(a - b) <= 1e-5 if out == "confidence" else a == b
                if not same:
                    return f"image {first + i}: {out} is {a!r} over {ref_name} but {b!r} over {name}"
            if len(ref[out]) != len(got[out]):
                return f"images {first}..: {len(ref[out])} {out} values over {ref_name}, {len(got[out])} over {name}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="host:port (or base URL) of the server's REST port, e.g. localhost:8080")
    ap.add_argument("grpc_address", help="host:port of the server's gRPC port, e.g. localhost:50051")
    ap.add_argument("model", help="model name, e.g. ranet-fmnist")
    ap.add_argument(
        "--images", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", help="IDX3 image file"
    )
    ap.add_argument("--limit", type=int, default=0, help="check the first N images only (0 = all)")
    ap.add_argument("--batch", type=int, default=100, help="images per request")
    ap.add_argument(
        "--exits", type=int, default=0, help="the model's exit count (0 = read it from the model's metadata)"
    )
    args = ap.parse_args()
    if "://" not in args.url:
        args.url = f"http://{args.url}"
    images, hw = read_idx_images(args.images)
    if args.limit:
        images = images[: args.limit]
    session = requests.Session()
    stub = grpc.insecure_channel(args.grpc_address).unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=pb.ModelInferRequest.SerializeToString,
        response_deserializer=pb.ModelInferResponse.FromString,
    )
    try:
        exits = args.exits
        if not exits:
            res = session.get(f"{args.url}/v2/models/{args.model}", timeout=10)
            refused(res)
            exits = next(o["shape"][1] for o in res.json()["outputs"] if o["name"] == "exit_classes")
        t0, per_exit, done = time.time(), [0] * exits, 0
        for b, first in enumerate(range(0, len(images), args.batch)):
            batch = images[first : first + args.batch]
            exit_ = b % exits + 1
            ways = [
                rest_json(session, args.url, args.model, batch, hw, exit_),
                rest_binary(session, args.url, args.model, batch, hw, exit_),
                grpc_infer(stub, args.model, batch, hw, exit_),
            ]
            diff = compare(first, ways, ["REST JSON", "REST binary", "gRPC"])
            if diff:
                print(f"DIFFERENT: {diff}", file=sys.stderr)
                return 1
            if any(e != exit_ for e in ways[0]["exit"]):
                print(
                    f"DIFFERENT: images {first}..: exit {exit_} asked, {sorted(set(ways[0]['exit']))} answered",
                    file=sys.stderr,
                )
                return 1
            per_exit[exit_ - 1] += len(batch)
            before, done = done, done + len(batch)
            if done // 1000 > before // 1000:
                print(f"{done} of {len(images)} images the same three ways ({time.time() - t0:.0f} s)", flush=True)
    except (requests.ConnectionError, grpc.RpcError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"OK: {done} images, the same labels, classes, exits, FLOPs, confidences: REST JSON, REST binary, gRPC")
    print(f"images per fixed exit: {per_exit}; {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

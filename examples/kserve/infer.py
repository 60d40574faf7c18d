"""A KServe v2 / Triton-style ModelInfer client built only from the public Open Inference
Protocol messages (examples/kserve/grpc_predict_v2.proto): the image as UINT8 pixels, then as
encoded BYTES. Run with Debian's Python, /usr/bin/python3, after `apt-get install python3-grpcio
python3-pil protobuf-compiler` (another Python needs `pip install grpcio protobuf pillow`). From the
repository's root:

    mkdir -p /tmp/oip-py
    protoc -I examples/kserve --python_out=/tmp/oip-py examples/kserve/grpc_predict_v2.proto
    PYTHONPATH=/tmp/oip-py /usr/bin/python3 examples/kserve/infer.py localhost:50051 ranet-fmnist examples/images/*.png

The server's outputs: `label` (BYTES), `class` (INT64), `confidence` (FP32), `exit` (INT32) and
`flops` (INT64), one value per image; request parameters such as `flops_budget` go in
`parameters`. A file that is not an image, or a call the server refuses, prints what went wrong
and exits 1.
"""
import argparse
import struct
import sys

import grpc
import grpc_predict_v2_pb2 as pb
from PIL import Image, UnidentifiedImageError


def output(response, name):
    """The values of output `name`, decoded from raw_output_contents (OIP's binary form)."""
    for i, t in enumerate(response.outputs):
        if t.name != name:
            continue
        raw = response.raw_output_contents[i]
        if t.datatype == "BYTES":  # each element: 4-byte little-endian length, then the bytes
            out, at = [], 0
            while at < len(raw):
                (n,) = struct.unpack_from("<I", raw, at)
                out.append(raw[at + 4 : at + 4 + n].decode())
                at += 4 + n
            return out
        fmt = {"INT64": "q", "INT32": "i", "FP32": "f"}[t.datatype]
        return list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw))
    raise KeyError(name)


def explain(err: grpc.RpcError, address: str) -> str:
    """A status as `CODE: message`, with what to do for the errors a first call meets."""
    details = (err.details() or "").split(" Resolution note:")[0].strip()
    code = err.code().name
    if err.code() == grpc.StatusCode.UNAVAILABLE and "connect" in details.lower():
        return f"{code}: cannot reach a server at {address} ({details}); is it running?"
    if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
        return f"{code}: {details}: the request is over the server's maxMessageBytes; send fewer or smaller images"
    return f"{code}: {details}"


def read_pixels(paths):
    """Each file as grayscale pixels; None (after saying why) when one is not an image PIL reads."""
    pixels = []
    for p in paths:
        try:
            pixels.append(Image.open(p).convert("L"))
        except (UnidentifiedImageError, OSError) as e:
            print(f"error: {p}: not an image this client can read ({e})", file=sys.stderr)
            return None
    return pixels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("address", help="host:port of the server's gRPC listener")
    ap.add_argument("model", help="model name, e.g. ranet-fmnist")
    ap.add_argument("images", nargs="+", help="image files (grayscale 28x28 for the Fashion-MNIST models)")
    args = ap.parse_args()
    infer = grpc.insecure_channel(args.address).unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=pb.ModelInferRequest.SerializeToString,
        response_deserializer=pb.ModelInferResponse.FromString,
    )
    outputs = [pb.ModelInferRequest.InferRequestedOutputTensor(name=n) for n in ("label", "exit", "flops")]

    pixels = read_pixels(args.images)
    if pixels is None:
        return 1
    try:
        infer_both(infer, outputs, args, pixels)
    except grpc.RpcError as err:
        print(f"error: {explain(err, args.address)}", file=sys.stderr)
        return 1
    return 0


def infer_both(infer, outputs, args, pixels) -> None:
    """The images as UINT8 pixels, then as encoded BYTES; prints each answer."""
    # 1. UINT8 pixels [N, H, W], one batch
    w, h = pixels[0].size
    req = pb.ModelInferRequest(model_name=args.model, outputs=outputs)
    req.inputs.add(name="image", datatype="UINT8", shape=[len(pixels), h, w])
    req.raw_input_contents.append(b"".join(img.tobytes() for img in pixels))
    res = infer(req, timeout=10)
    for path, label, exit_, flops in zip(args.images, output(res, "label"), output(res, "exit"), output(res, "flops")):
        print(f"uint8 {path}: {label} (exit {exit_}, {flops / 1e6:.2f} MMACs)")

    # 2. encoded images as BYTES [N]
    req = pb.ModelInferRequest(model_name=args.model, outputs=outputs)
    req.inputs.add(name="image_bytes", datatype="BYTES", shape=[len(args.images)])
    req.raw_input_contents.append(
        b"".join(struct.pack("<I", len(b)) + b for b in (open(p, "rb").read() for p in args.images))
    )
    res = infer(req, timeout=10)
    for path, label in zip(args.images, output(res, "label")):
        print(f"bytes {path}: {label}")


if __name__ == "__main__":
    sys.exit(main())

"""Classify images with the ranet.v1 API from Python: grpcio and message classes generated from
this repository's proto/. Run with Debian's Python, /usr/bin/python3, after
`apt-get install python3-grpcio protobuf-compiler` (another Python needs `pip install grpcio protobuf`).
From the repository's root:

    mkdir -p /tmp/ranet-py
    protoc -I proto --python_out=/tmp/ranet-py proto/ranet/v1/classifier.proto
    PYTHONPATH=/tmp/ranet-py /usr/bin/python3 examples/python/classify.py localhost:50051 examples/images/*.png

Prints one line per image from unary Classify, then the same images through one ClassifyStream
(answers come as they finish; request_id matches them). `--model NAME` picks a model of the
server's repository (default: the server's default model). A call the server refuses prints its
status code and message and exits 1.
"""
import argparse
import os
import sys

import grpc
from ranet.v1 import classifier_pb2 as pb

# Status names by number (a ClassifyStream item's error carries the number).
CODES = {s.value[0]: s.name for s in grpc.StatusCode}
# The server's default maxMessageBytes: a larger request is refused before it is read.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def explain(err: grpc.RpcError, address: str) -> str:
    """A status as `CODE: message`, with what to do for the errors a first call meets."""
    details = (err.details() or "").split(" Resolution note:")[0].strip()
    code = err.code().name
    if err.code() == grpc.StatusCode.UNAVAILABLE and "connect" in details.lower():
        return f"{code}: cannot reach a server at {address} ({details}); is it running?"
    if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
        return f"{code}: {details}: the request is over the server's maxMessageBytes; send a smaller image"
    return f"{code}: {details}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("address", help="host:port of the server's gRPC listener")
    ap.add_argument("images", nargs="+", help="PNG, JPEG or WebP files")
    ap.add_argument("--model", default="", help="model name (default: the server's default model)")
    ap.add_argument(
        "--max-message-bytes",
        type=int,
        default=MAX_MESSAGE_BYTES,
        help=f"the server's maxMessageBytes: larger images are not sent (default {MAX_MESSAGE_BYTES})",
    )
    args = ap.parse_args()

    images = {}
    for path in args.images:
        size = os.path.getsize(path)
        if size > args.max_message_bytes - 1024:
            print(
                f"error: {path} is {size} bytes, over the server's maxMessageBytes ({args.max_message_bytes});"
                " send a smaller image, or raise maxMessageBytes on the server and pass --max-message-bytes",
                file=sys.stderr,
            )
            return 1
        with open(path, "rb") as f:
            images[path] = f.read()

    channel = grpc.insecure_channel(args.address)
    classify = channel.unary_unary(
        "/ranet.v1.Classifier/Classify",
        request_serializer=pb.ClassifyRequest.SerializeToString,
        response_deserializer=pb.ClassifyResponse.FromString,
    )
    stream = channel.stream_stream(
        "/ranet.v1.Classifier/ClassifyStream",
        request_serializer=pb.ClassifyRequest.SerializeToString,
        response_deserializer=pb.ClassifyResponse.FromString,
    )
    try:
        for path, data in images.items():
            r = classify(pb.ClassifyRequest(model=args.model, image=data), timeout=10)
            print(f"unary {path}: {r.label} (exit {r.exit}, confidence {r.confidence:.3f}, {r.flops / 1e6:.2f} MMACs)")

        requests = (pb.ClassifyRequest(request_id=path, model=args.model, image=data) for path, data in images.items())
        failed = 0
        for r in stream(requests, timeout=10):
            if r.HasField("error"):
                failed += 1
                code = CODES.get(r.error.code, r.error.code)
                print(f"stream {r.request_id}: error {code}: {r.error.message}", file=sys.stderr)
            else:
                print(f"stream {r.request_id}: {r.label} (exit {r.exit})")
        return 1 if failed else 0
    except grpc.RpcError as err:
        print(f"error: {explain(err, args.address)}", file=sys.stderr)
        return 1
    finally:
        channel.close()


if __name__ == "__main__":
    sys.exit(main())

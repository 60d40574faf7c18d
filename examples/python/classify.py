"""Classify images with the ranet.v1 API from Python: grpcio and message classes generated from
this repository's proto/ (Debian: python3-grpcio, protobuf-compiler).

    protoc -I proto --python_out=/tmp/ranet-py proto/ranet/v1/classifier.proto
    PYTHONPATH=/tmp/ranet-py python3 examples/python/classify.py localhost:50051 examples/images/*.png

Prints one line per image from unary Classify, then the same images through one ClassifyStream
(answers come as they finish; request_id matches them). `--model NAME` picks a model of the
server's repository (default: the server's default model).
"""
import argparse

import grpc
from ranet.v1 import classifier_pb2 as pb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("address", help="host:port of the server's gRPC listener")
    ap.add_argument("images", nargs="+", help="PNG, JPEG or WebP files")
    ap.add_argument("--model", default="", help="model name (default: the server's default model)")
    args = ap.parse_args()

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
    images = {path: open(path, "rb").read() for path in args.images}

    for path, data in images.items():
        r = classify(pb.ClassifyRequest(model=args.model, image=data), timeout=10)
        print(f"unary {path}: {r.label} (exit {r.exit}, confidence {r.confidence:.3f}, {r.flops / 1e6:.2f} MMACs)")

    requests = (pb.ClassifyRequest(request_id=path, model=args.model, image=data) for path, data in images.items())
    for r in stream(requests, timeout=10):
        if r.HasField("error"):
            print(f"stream {r.request_id}: error {r.error.code} {r.error.message}")
        else:
            print(f"stream {r.request_id}: {r.label} (exit {r.exit})")


if __name__ == "__main__":
    main()

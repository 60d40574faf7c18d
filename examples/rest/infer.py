"""A REST client of the Open Inference Protocol (KServe v2) built only from its public
specification and Triton's binary tensor data extension, with Python `requests`: the images as
UINT8 pixels in JSON, then as encoded files in binary. Run with Debian's Python, /usr/bin/python3,
after `apt-get install python3-requests python3-pil` (another Python needs `pip install requests
pillow`). From the repository's root, with the server's REST port (8080 by default):

    /usr/bin/python3 examples/rest/infer.py http://localhost:8080 ranet-fmnist examples/images/*.png

Each answer prints as `json PATH: LABEL (exit E, F MMACs)` and `binary PATH: LABEL`. Request
parameters such as `flops_budget` go in the request's `parameters` (--flops-budget here). A file
that is not an image, or a request the server refuses (an `{"error": ...}` body), prints what went
wrong and exits 1.
"""
import argparse
import json
import struct
import sys

import requests
from PIL import Image, UnidentifiedImageError


def check(res: requests.Response) -> None:
    """Raises with the server's `{"error": ...}` message for any answer but 200."""
    if res.status_code != 200:
        try:
            message = res.json()["error"]
        except (ValueError, KeyError, TypeError):
            message = res.text[:200]
        raise RuntimeError(f"HTTP {res.status_code}: {message}")


def infer_json(url, model, pixels, parameters):
    """The images as one UINT8 [N, H, W] tensor in JSON; returns the outputs by name."""
    w, h = pixels[0].size
    body = {
        "parameters": parameters,
        "inputs": [
            {
                "name": "image",
                "datatype": "UINT8",
                "shape": [len(pixels), h, w],
                "data": [list(img.tobytes()) for img in pixels],
            }
        ],
        "outputs": [{"name": "label"}, {"name": "exit"}, {"name": "flops"}],
    }
    res = requests.post(f"{url}/v2/models/{model}/infer", json=body, timeout=10)
    check(res)
    return {o["name"]: o["data"] for o in res.json()["outputs"]}


def infer_binary(url, model, files, parameters):
    """The encoded files as one BYTES [N] tensor after the JSON header; the labels back in binary."""
    data = b"".join(struct.pack("<I", len(b)) + b for b in files)
    header = json.dumps(
        {
            "parameters": parameters,
            "inputs": [
                {
                    "name": "image_bytes",
                    "datatype": "BYTES",
                    "shape": [len(files)],
                    "parameters": {"binary_data_size": len(data)},
                }
            ],
            "outputs": [{"name": "label", "parameters": {"binary_data": True}}],
        }
    ).encode()
    res = requests.post(
        f"{url}/v2/models/{model}/infer",
        data=header + data,
        headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
        timeout=10,
    )
    check(res)
    n = int(res.headers["Inference-Header-Content-Length"])
    doc, raw = json.loads(res.content[:n]), res.content[n:]
    size = doc["outputs"][0]["parameters"]["binary_data_size"]
    labels, at = [], 0
    while at < size:  # BYTES elements: a 4-byte little-endian length, then the bytes
        (length,) = struct.unpack_from("<I", raw, at)
        labels.append(raw[at + 4 : at + 4 + length].decode())
        at += 4 + length
    return labels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url", help="base URL of the server's REST port, e.g. http://localhost:8080")
    ap.add_argument("model", help="model name, e.g. ranet-fmnist")
    ap.add_argument("images", nargs="+", help="image files (grayscale 28x28 for the Fashion-MNIST models)")
    ap.add_argument("--flops-budget", type=int, default=0, help="per-request FLOPs cap in multiply-adds (0 = none)")
    args = ap.parse_args()
    parameters = {"flops_budget": args.flops_budget} if args.flops_budget else {}
    pixels, files = [], []
    for p in args.images:
        try:
            pixels.append(Image.open(p).convert("L"))
            files.append(open(p, "rb").read())
        except (UnidentifiedImageError, OSError) as e:
            print(f"error: {p}: not an image this client can read ({e})", file=sys.stderr)
            return 1
    try:
        out = infer_json(args.url, args.model, pixels, parameters)
        for path, label, exit_, flops in zip(args.images, out["label"], out["exit"], out["flops"]):
            print(f"json {path}: {label} (exit {exit_}, {flops / 1e6:.2f} MMACs)")
        for path, label in zip(args.images, infer_binary(args.url, args.model, files, parameters)):
            print(f"binary {path}: {label}")
    except requests.ConnectionError as e:
        print(f"error: cannot reach a server at {args.url} ({type(e).__name__}); is it running?", file=sys.stderr)
        return 1
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

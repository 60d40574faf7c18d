"""Per-exit accuracy and FLOPs of a trained checkpoint on the validation and test splits (PyTorch,
eval mode), and the budgeted-batch curve of the reference thresholds chosen on the validation
split (max-softmax, p = 0.05 .. 1.95) applied to the test set.

    python3 -m multiexit evaluate --checkpoint runs/msdnet-fmnist/best.pt
    python3 -m multiexit evaluate --model my_model.py:build --checkpoint my.pt --json out.json

The served model's accuracies (through onnxruntime, under the server's exit scoring rule) come
from `npm run eval:model` and `npm run eval:compare`; this command needs no server.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List

import numpy as np
import torch

from . import data as data_mod
from .archs import list_models
from .export import model_from_checkpoint
from .flops import cumulative_exit_flops
from .interface import count_parameters
from .train import accuracies, predict_logits


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def budgeted_curve(val: np.ndarray, val_y: np.ndarray, test: np.ndarray, test_y: np.ndarray, flops: List[int]):
    """The reference algorithm: geometric exit proportions per p, thresholds from the validation
    split, applied to the test set; returns (p, expected test FLOPs, test accuracy) points."""
    n, k_exits, _ = val.shape
    conf_v, pred_t = softmax(val).max(-1), test.argmax(-1)
    conf_t = softmax(test).max(-1)
    points = []
    for p in np.arange(0.05, 2.0, 0.05):
        probs = p ** np.arange(1, k_exits + 1)
        probs /= probs.sum()
        thresholds = np.full(k_exits, np.inf)
        left = np.ones(n, bool)
        for k in range(k_exits - 1):
            take = int(np.floor(n * probs[k]))
            cand = np.where(left)[0]
            if take > 0 and len(cand) >= take:
                order = cand[np.argsort(-conf_v[cand, k], kind="stable")]
                thresholds[k] = conf_v[order[take - 1], k]
                left &= ~(conf_v[:, k] >= thresholds[k])
        thresholds[-1] = -np.inf
        exit_at = np.argmax(conf_t >= thresholds[None, :], axis=1)
        correct = pred_t[np.arange(len(test_y)), exit_at] == test_y
        points.append((round(float(p), 2), float(np.mean(np.asarray(flops)[exit_at])), float(correct.mean())))
    return points


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python3 -m multiexit evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", required=True, help="best.pt or checkpoint.pt written by the train command")
    ap.add_argument("--arch", choices=list_models(), help="architecture (default: the checkpoint's)")
    ap.add_argument("--model", help="FILE.py:CALLABLE returning your own model on the staging interface")
    ap.add_argument("--data-dir", default=None, help="data folder if not the one recorded in the checkpoint")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    ck = torch.load(args.checkpoint)
    model = model_from_checkpoint(ck, args.arch, args.model, args.checkpoint).eval()
    targs = ck["args"]
    ds = data_mod.load(
        ck["dataset"]["name"], args.data_dir or ck["dataset"]["source"]["root"], targs["val_size"], targs["seed"]
    )
    flops = cumulative_exit_flops(model)
    val, test = (predict_logits(model, x, ds.mean, ds.std) for x in (ds.val_x, ds.test_x))
    val_acc, test_acc = accuracies(val, ds.val_y), accuracies(test, ds.test_y)
    curve = budgeted_curve(val, ds.val_y, test, ds.test_y, flops)
    print(f"{type(model).__name__}: {count_parameters(model):,} parameters, epoch {int(ck['epoch']) + 1}")
    print("exit  MMACs  val top-1  test top-1")
    for k, f in enumerate(flops):
        print(f"{k + 1:4d} {f / 1e6:6.3f} {100 * val_acc[k]:9.2f}% {100 * test_acc[k]:9.2f}%")
    print("budgeted batch (validation thresholds, max-softmax) on the test set: p, MMACs, top-1")
    for p, f, a in curve[::4]:
        print(f"  p={p:4.2f} {f / 1e6:6.3f} {100 * a:6.2f}%")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"flops": flops, "val": val_acc, "test": test_acc, "budgeted": curve}, fh, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)

"""Export a trained RANet as sequential ONNX stages (and the fused whole graph) plus manifest.json, the calibration
file (validation-split logits) and parity fixtures.

    python3 export.py --checkpoint ../runs/fmnist/best.pt --out ranet-fmnist
    python3 export.py --dry-run                      # untrained tiny model into a temp folder

Files written to --out:
  stage{k}.onnx        exit k's stage (opset 17, dynamic batch axis), checked with onnx.checker
  manifest.json        everything the server needs: input spec, labels, stages, exits
  calibration.bin      float32 little-endian logits [val images, exits, classes]
  calibration.json     its shape and the validation labels
  evaluation.bin/.json the same for the test split: the server reports per-exit test accuracy
                       under its exit scoring rule from it (never used to choose anything)
  fixtures/parity.json a few test images (uint8 pixels and preprocessed), PyTorch's logits per exit
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from typing import List

import onnx
import torch

import data as data_mod
from config import RANetConfig, preset
from flops import counting, cumulative_exit_flops
from fuse import fuse
from model import RANet, count_parameters
from staged import Stage, build_stages, run_staged
from train import accuracies, predict_logits

OPSET = 17
FIXTURE_COUNT = 8


def write_logit_set(out, name, logits, labels, split, indices=None):
    """Every exit's logits of a split: NAME.bin (float32 little-endian [count, exits, classes]) and NAME.json
    (with `indices`, each sample's position in the training files: tools can replay the split's images)."""
    logits.astype("<f4").tofile(os.path.join(out, f"{name}.bin"))
    count, exits, classes = logits.shape
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(
            {
                "file": f"{name}.bin",
                "dtype": "float32",
                "byteOrder": "little",
                "layout": "logits [count, exits, classes], row-major",
                "count": int(count),
                "exits": int(exits),
                "classes": int(classes),
                "split": split,
                "labels": labels.tolist(),
                **({} if indices is None else {"indices": [int(i) for i in indices]}),
            },
            f,
        )


def staged_flops(model: RANet, stages: List[Stage]) -> List[int]:
    """Multiply-adds the staged execution really performs, cumulative per exit."""
    cfg = model.cfg
    per_exit: List[int] = []
    with counting(model, per_exit.append):
        run_staged(stages, torch.zeros(1, cfg.in_channels, cfg.in_size, cfg.in_size))
    return per_exit


def export_stage(stage: Stage, example: List[torch.Tensor], path: str) -> None:
    names_in, names_out = stage.plan.inputs, stage.plan.outputs
    torch.onnx.export(
        stage,
        tuple(example),
        path,
        opset_version=OPSET,
        input_names=names_in,
        output_names=names_out,
        dynamic_axes={n: {0: "batch"} for n in names_in + names_out},
        do_constant_folding=True,
    )
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)


def example_inputs(stages: List[Stage], image: torch.Tensor) -> List[List[torch.Tensor]]:
    env = {"image": image}
    out = []
    with torch.no_grad():
        for st in stages:
            ins = [env[n] for n in st.plan.inputs]
            out.append(ins)
            env.update(zip(st.plan.outputs, st(*ins)))
    return out


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="best.pt or checkpoint.pt written by train.py")
    ap.add_argument("--out", help="output model folder (e.g. ranet-fmnist)")
    ap.add_argument("--name", default="ranet-fmnist", help="model name in the manifest (default ranet-fmnist)")
    ap.add_argument("--version", default="1", help="model version in the manifest (default 1)")
    ap.add_argument("--data-dir", default=None, help="data folder if not the one recorded in the checkpoint")
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="export an untrained tiny model (512 test images) into a temp folder: a smoke test",
    )
    ap.add_argument(
        "--random-weights",
        metavar="PRESET",
        help="export PRESET (config.py) with seeded random weights and random calibration images into --out: "
        "a model of that size to benchmark serving on (e.g. paper-cifar10, 3x32x32); its accuracies mean nothing",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)

    if args.random_weights:
        if not args.out:
            raise SystemExit("--random-weights needs --out")
        cfg = preset(args.random_weights)
        torch.manual_seed(0)
        model = RANet(cfg)
        ds = data_mod.synthetic(cfg.in_channels, cfg.in_size, cfg.num_classes, 256)
        meta = {"epoch": -1, "args": {"random_weights": args.random_weights}, "dataset": {"source": ds.source}}
        out = args.out
    elif args.dry_run:
        cfg = preset("tiny")
        torch.manual_seed(0)
        model = RANet(cfg)
        ds = data_mod.load("fmnist", args.data_dir, 256, 0, limit=512)
        meta = {"epoch": -1, "args": {"dry_run": True}, "dataset": {"source": ds.source}}
        out = args.out or tempfile.mkdtemp(prefix="ranet-export-")
    else:
        if not args.checkpoint or not args.out:
            raise SystemExit("--checkpoint and --out are required (or --dry-run)")
        ck = torch.load(args.checkpoint)
        cfg = RANetConfig.from_dict(ck["config"])
        model = RANet(cfg)
        model.load_state_dict(ck["model"])
        targs = ck["args"]
        ds = data_mod.load(
            ck["dataset"]["name"], args.data_dir or ck["dataset"]["source"]["root"], targs["val_size"], targs["seed"]
        )
        if ds.mean != ck["dataset"]["mean"]:
            raise SystemExit("data set differs from the one the checkpoint was trained on (mean mismatch)")
        meta = ck
        out = args.out
    model.eval()
    os.makedirs(os.path.join(out, "fixtures"), exist_ok=True)
    stages = build_stages(model)

    # 1. staged == unstaged, then the ONNX files
    probe = data_mod.normalise(torch.from_numpy(ds.test_x[:FIXTURE_COUNT]), ds.mean, ds.std)
    with torch.no_grad():
        full, staged = model(probe), run_staged(stages, probe)
    diff = max(float((a - b).abs().max()) for a, b in zip(full, staged))
    if diff > 1e-5:
        raise SystemExit(f"staged forward differs from the full forward by {diff}")
    for st, ins in zip(stages, example_inputs(stages, probe)):
        path = os.path.join(out, f"stage{st.plan.index + 1}.onnx")
        export_stage(st, ins, path)
        print(
            f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB): {st.plan.inputs} -> {st.plan.outputs}",
            file=sys.stderr,
        )

    # 2. FLOPs: analytical (full forward) and what the staged run performs
    flops = cumulative_exit_flops(model)
    flops_staged = staged_flops(model, stages)
    if flops != flops_staged:
        raise SystemExit(f"staged FLOPs {flops_staged} differ from the full forward's {flops}")

    # 3. accuracy and calibration
    print("evaluating on the validation and test splits...", file=sys.stderr)
    val_logits = predict_logits(model, ds.val_x, ds.mean, ds.std)
    test_logits = predict_logits(model, ds.test_x, ds.mean, ds.std)
    val_acc, test_acc = accuracies(val_logits, ds.val_y), accuracies(test_logits, ds.test_y)
    write_logit_set(out, "calibration", val_logits, ds.val_y, ds.source["val_split"], ds.val_index)
    write_logit_set(out, "evaluation", test_logits, ds.test_y, "test split")

    # 4. parity fixtures: PyTorch's per-exit logits for a few test images
    fixtures = {
        "count": FIXTURE_COUNT,
        "images": [
            {
                "label": int(ds.test_y[i]),
                "pixels": ds.test_x[i].reshape(-1).tolist(),
                "input": probe[i].reshape(-1).tolist(),
                "logits": [full[k][i].tolist() for k in range(model.n_exits)],
            }
            for i in range(FIXTURE_COUNT)
        ],
    }
    with open(os.path.join(out, "fixtures", "parity.json"), "w") as f:
        json.dump(fixtures, f)

    # 5. manifest
    manifest = {
        "format": "staged-multi-exit/v1",
        "name": args.name,
        "version": args.version,
        "architecture": "RANet",
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": {
            "name": "image",
            "dtype": "float32",
            "shape": [cfg.in_channels, cfg.in_size, cfg.in_size],
            "layout": "CHW",
            "pixelScale": 1 / 255,
            "mean": ds.mean,
            "std": ds.std,
            "colorSpace": "gray" if cfg.in_channels == 1 else "rgb",
            "preprocessing": "value = (pixel * pixelScale - mean[c]) / std[c]",
        },
        "labels": ds.labels,
        "stages": [
            {"file": f"stage{st.plan.index + 1}.onnx", "inputs": st.plan.inputs, "outputs": st.plan.outputs}
            for st in stages
        ],
        "exits": [
            {"stage": k, "flops": flops[k], "accuracy": {"val": round(val_acc[k], 5), "test": round(test_acc[k], 5)}}
            for k in range(model.n_exits)
        ],
        "flopsConvention": "multiply-adds per sample, cumulative per exit, earlier heads included "
        "(conv, ReLU elements, pooling, linear; BN/interpolation/concat 0)",
        "parameters": count_parameters(model),
        "calibration": "calibration.json",
        "evaluation": "evaluation.json",
        "training": {
            "config": cfg.to_dict(),
            "epochsTrained": int(meta["epoch"]) + 1,
            "args": {k: v for k, v in meta["args"].items()},
            "data": meta["dataset"]["source"],
        },
        "opset": OPSET,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    # 6. the whole network as one graph (every exit's logits), for requests that must reach the last exit
    manifest["fused"] = fuse(out)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"exported {model.n_exits} stages and the fused graph to {out}", file=sys.stderr)
    for k in range(model.n_exits):
        print(
            f"  exit {k + 1}: {flops[k] / 1e6:7.3f} MMACs  val {100 * val_acc[k]:.2f}%  "
            f"test {100 * test_acc[k]:.2f}%",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()

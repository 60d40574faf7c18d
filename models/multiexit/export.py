"""Export a multi-exit model as the server serves it: sequential ONNX stages (one per exit), the
fused whole-network graph, manifest.json, the calibration file (validation-split logits), the
test-split logits and parity fixtures.

    python3 -m multiexit export --checkpoint runs/msdnet-fmnist/best.pt --out repository/msdnet-fmnist/1 \\
        --name msdnet-fmnist
    python3 -m multiexit export --model my_model.py:build --checkpoint my.pt --out repository/mine/1 --name mine
    python3 -m multiexit export --arch msdnet --dry-run           # untrained tiny model into a temp folder
    python3 -m multiexit export --arch ranet --random-weights paper-cifar10 --out /tmp/ranet-paper-cifar10

Any model on the staging interface (interface.py) exports: a registered architecture (--arch,
the checkpoint names it) or your own (--model FILE.py:CALLABLE, a callable that returns the model).
Before writing, the exporter checks, and stops with a message naming the stage and tensor:
  - the model implements the interface (forward, exit_heads, stages, config);
  - one stage per exit head, each writing `logits`; every stage input is `image` or a tensor an
    earlier stage writes;
  - the staged forward gives the full forward's logits at every exit (within 1e-5);
  - the FLOPs counted on the stages equal the model's own count at every exit;
  - each stage's ONNX outputs equal PyTorch's on sample inputs within 1e-4 (absolute) + 1e-4
    (relative), run in onnxruntime-node from this repository's node_modules (--no-onnx-check skips).
Outputs that no later stage reads are dropped from the stage graphs.

Files written to --out:
  stage{k}.onnx        exit k's stage (opset 17, dynamic batch axis), checked with onnx.checker
  fused.onnx           all stages as one graph: the input in, logits_1..logits_K out
  manifest.json        everything the server needs: input spec, labels, stages, exits, FLOPs
  calibration.bin/.json  float32 little-endian logits [val images, exits, classes] and the labels
  evaluation.bin/.json the same for the test split (reported accuracies only; never used to choose)
  fixtures/parity.json a few test images (uint8 pixels and preprocessed), PyTorch's logits per exit
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Sequence

import numpy as np
import onnx
import torch
import torch.nn as nn

from . import data as data_mod
from .archs import get_arch, list_models, load_callable
from .flops import cumulative_exit_flops, staged_exit_flops
from .fuse import fuse
from .interface import INPUT, LOGITS, MultiExitModel, Stage, StageCheck, count_parameters, missing_interface
from .train import accuracies, predict_logits
from .errors import ExportError, UsageError

OPSET = 17
FIXTURE_COUNT = 8
STAGED_TOLERANCE = 1e-5
ONNX_ATOL, ONNX_RTOL = 1e-4, 1e-4
FLOPS_CONVENTION = (
    "multiply-adds per sample, cumulative per exit, earlier heads included "
    "(conv, ReLU elements, pooling, linear; BN/interpolation/concat 0)"
)
ORT_CHECK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_check.mjs")


def check_interface(model: object) -> MultiExitModel:
    missing = missing_interface(model)
    if missing:
        raise ExportError(
            f"{type(model).__name__} does not implement the staging interface (multiexit/interface.py): "
            f"missing {', '.join(missing)}"
        )
    return model  # type: ignore[return-value]


def check_stages(model: MultiExitModel, stages: Sequence[Stage]) -> List[StageCheck]:
    """Checks the tensor contract and returns each stage's inputs and the outputs a later stage
    reads (logits first, the rest in the model's order)."""
    heads = model.exit_heads()
    if len(stages) != len(heads):
        raise ExportError(
            f"the model has {len(heads)} exit heads but {len(stages)} stages; expected one stage per exit"
        )
    writers: Dict[str, int] = {}
    needed: List[set] = [set() for _ in stages]
    for k, st in enumerate(stages):
        if not isinstance(st, Stage):
            raise ExportError(f"stage {k + 1} is a {type(st).__name__}, not an interface.Stage")
        if LOGITS not in st.outputs:
            raise ExportError(f"stage {k + 1} writes no '{LOGITS}' tensor (outputs {st.outputs})")
        if len(set(st.outputs)) != len(st.outputs):
            raise ExportError(f"stage {k + 1} names an output twice: {st.outputs}")
        for name in set(st.inputs) & set(st.outputs):
            raise ExportError(
                f"stage {k + 1} writes tensor '{name}' that it also reads: give the new tensor its own name"
            )
        for name in st.inputs:
            if name == INPUT:
                continue
            if name not in writers:
                raise ExportError(f"stage {k + 1} reads tensor '{name}' that no earlier stage writes")
            needed[writers[name]].add(name)
        for name in st.outputs:
            writers[name] = k
    return [
        StageCheck(k, list(st.inputs), [LOGITS] + [o for o in st.outputs if o != LOGITS and o in needed[k]])
        for k, st in enumerate(stages)
    ]


def run_stages(stages: Sequence[Stage], image: torch.Tensor) -> List[Dict[str, torch.Tensor]]:
    """Chains the stages as the server does; returns each stage's inputs and outputs by name."""
    env: Dict[str, torch.Tensor] = {INPUT: image}
    record = []
    with torch.no_grad():
        for st in stages:
            ins = [env[n] for n in st.inputs]
            outs = st(*ins)
            if len(outs) != len(st.outputs):
                raise ExportError(
                    f"stage {len(record) + 1} returned {len(outs)} tensors "
                    f"for its {len(st.outputs)} outputs {st.outputs}"
                )
            env.update(zip(st.outputs, outs))
            record.append({**dict(zip(st.inputs, ins)), **{f"out:{n}": t for n, t in zip(st.outputs, outs)}})
    return record


def check_staged_forward(model: MultiExitModel, stages: Sequence[Stage], probe: torch.Tensor) -> None:
    with torch.no_grad():
        full = model(probe)
    record = run_stages(stages, probe)
    for k, (want, rec) in enumerate(zip(full, record)):
        got = rec[f"out:{LOGITS}"]
        if got.shape != want.shape:
            raise ExportError(
                f"stage {k + 1} tensor 'logits' has shape {tuple(got.shape)}, "
                f"forward's exit {k + 1} has {tuple(want.shape)}"
            )
        diff = float((got - want).abs().max())
        if diff > STAGED_TOLERANCE:
            raise ExportError(
                f"stage {k + 1} tensor 'logits' differs from the full forward's exit {k + 1} by {diff:.3g} "
                f"(tolerance {STAGED_TOLERANCE}): the stages do not compute what forward() computes"
            )


def check_flops(model: MultiExitModel, stages: Sequence[Stage]) -> List[int]:
    own = cumulative_exit_flops(model)
    staged = staged_exit_flops(model, stages)
    if len(own) != len(staged):
        raise ExportError(f"forward() passed {len(own)} exit heads, the stages {len(staged)}")
    for k, (a, b) in enumerate(zip(own, staged)):
        if a != b:
            raise ExportError(
                f"stage {k + 1} tensor 'logits': FLOPs counted on the stages ({b:,}) differ from the model's own "
                f"count at exit {k + 1} ({a:,}): a stage recomputes or skips work"
            )
        if k > 0 and a <= own[k - 1]:
            raise ExportError(f"exit {k + 1} costs {a:,} multiply-adds, not more than exit {k} ({own[k - 1]:,})")
    return own


class PrunedStage(nn.Module):
    """A stage that returns only the outputs a later stage reads."""

    def __init__(self, stage: Stage, keep: List[str]):
        super().__init__()
        self.stage = stage
        self.index = [stage.outputs.index(n) for n in keep]

    def forward(self, *inputs: torch.Tensor):
        outs = self.stage(*inputs)
        return tuple(outs[i] for i in self.index)


def export_stage(stage: Stage, check: StageCheck, example: List[torch.Tensor], path: str) -> None:
    # exported in eval mode: torch.onnx.export restores the exported module's mode afterwards,
    # recursively, so a module left in training mode would switch the whole model to training
    torch.onnx.export(
        PrunedStage(stage, check.outputs).eval(),
        tuple(example),
        path,
        opset_version=OPSET,
        input_names=check.inputs,
        output_names=check.outputs,
        dynamic_axes={n: {0: "batch"} for n in check.inputs + check.outputs},
        do_constant_folding=True,
    )
    onnx.checker.check_model(onnx.load(path), full_check=True)


def find_node_runtime() -> str | None:
    """node, when onnxruntime-node resolves from this file (the repository's node_modules)."""
    node = shutil.which("node")
    if node is None:
        return None
    probe = subprocess.run(
        [node, "-e", "import('onnxruntime-node').then(()=>process.exit(0),()=>process.exit(1))"],
        cwd=os.path.dirname(ORT_CHECK_SCRIPT),
        capture_output=True,
    )
    return node if probe.returncode == 0 else None


def check_onnx(out: str, checks: List[StageCheck], record: List[Dict[str, torch.Tensor]]) -> float:
    """Runs every stage file in onnxruntime-node on the recorded inputs; returns the largest
    difference from PyTorch's outputs. Stops the export beyond tolerance."""
    node = find_node_runtime()
    if node is None:
        raise ExportError(
            "the ONNX check needs node and onnxruntime-node (run `npm ci` in the repository root), "
            "or pass --no-onnx-check"
        )
    with tempfile.TemporaryDirectory(prefix="onnx-check-") as tmp:
        jobs = []
        for c, rec in zip(checks, record):
            feeds = {}
            for n in c.inputs:
                t = rec[n].contiguous().numpy().astype("<f4")
                f = os.path.join(tmp, f"s{c.index}-in-{len(feeds)}.bin")
                t.tofile(f)
                feeds[n] = {"file": f, "dims": list(t.shape)}
            jobs.append({"model": os.path.join(out, f"stage{c.index + 1}.onnx"), "feeds": feeds, "outputs": c.outputs})
        spec = os.path.join(tmp, "jobs.json")
        with open(spec, "w") as f:
            json.dump({"jobs": jobs, "outDir": tmp}, f)
        run = subprocess.run([node, ORT_CHECK_SCRIPT, spec], capture_output=True, text=True)
        if run.returncode != 0:
            raise ExportError(f"onnxruntime-node could not run the stages: {run.stderr.strip()[-2000:]}")
        worst = 0.0
        for c, rec, job in zip(checks, record, json.loads(run.stdout)["results"]):
            for name, res in job.items():
                got = np.fromfile(res["file"], dtype="<f4").reshape(res["dims"])
                want = rec[f"out:{name}"].numpy()
                if got.shape != want.shape:
                    raise ExportError(
                        f"stage {c.index + 1} tensor '{name}': ONNX shape {got.shape}, PyTorch {want.shape}"
                    )
                excess = np.abs(got - want) - (ONNX_ATOL + ONNX_RTOL * np.abs(want))
                worst = max(worst, float(np.abs(got - want).max()))
                if (excess > 0).any():
                    raise ExportError(
                        f"stage {c.index + 1} tensor '{name}': ONNX differs from PyTorch by "
                        f"{float(np.abs(got - want).max()):.3g} (tolerance {ONNX_ATOL} + {ONNX_RTOL} x |value|)"
                    )
    return worst


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


def export_model(
    model: MultiExitModel,
    ds: data_mod.Dataset,
    out: str,
    name: str,
    version: str,
    meta: dict,
    onnx_check: bool = True,
    log=lambda text: print(text, file=sys.stderr),
) -> dict:
    """Checks `model` and writes the model folder `out`; returns the manifest."""
    model = check_interface(model)
    model.eval()
    cfg = model.config
    shape = tuple(model.input_shape())
    if tuple(ds.test_x.shape[1:]) != shape:
        raise ExportError(f"the model reads {list(shape)} images, the data set has {list(ds.test_x.shape[1:])}")
    os.makedirs(os.path.join(out, "fixtures"), exist_ok=True)
    stages = model.stages()
    checks = check_stages(model, stages)
    log(f"checked the tensor contract of {len(stages)} stages")

    probe = data_mod.normalise(torch.from_numpy(ds.test_x[:FIXTURE_COUNT]), ds.mean, ds.std)
    check_staged_forward(model, stages, probe)
    flops = check_flops(model, stages)
    log("staged forward and FLOPs agree with the model at every exit")

    record = run_stages(stages, probe)
    with torch.no_grad():
        full = model(probe)
    for c, st, rec in zip(checks, stages, record):
        path = os.path.join(out, f"stage{c.index + 1}.onnx")
        export_stage(st, c, [rec[n] for n in c.inputs], path)
        log(f"wrote {path} ({os.path.getsize(path) / 1e3:.0f} kB): {c.inputs} -> {c.outputs}")
    if onnx_check:
        worst = check_onnx(out, checks, record)
        log(f"ONNX stages match PyTorch on {FIXTURE_COUNT} images (largest difference {worst:.2g})")

    log("evaluating on the validation and test splits...")
    val_logits = predict_logits(model, ds.val_x, ds.mean, ds.std)
    test_logits = predict_logits(model, ds.test_x, ds.mean, ds.std)
    val_acc, test_acc = accuracies(val_logits, ds.val_y), accuracies(test_logits, ds.test_y)
    write_logit_set(out, "calibration", val_logits, ds.val_y, ds.source["val_split"], ds.val_index)
    write_logit_set(out, "evaluation", test_logits, ds.test_y, "test split")

    if model.training:
        raise ExportError("the model left eval mode during the export (a stage switched it to training)")
    fixtures = {
        "count": FIXTURE_COUNT,
        "images": [
            {
                "label": int(ds.test_y[i]),
                "pixels": ds.test_x[i].reshape(-1).tolist(),
                "input": probe[i].reshape(-1).tolist(),
                "logits": [full[k][i].tolist() for k in range(model.n_exits)],
            }
            for i in range(min(FIXTURE_COUNT, len(probe)))
        ],
    }
    with open(os.path.join(out, "fixtures", "parity.json"), "w") as f:
        json.dump(fixtures, f)

    manifest = {
        "format": "staged-multi-exit/v1",
        "name": name,
        "version": version,
        "architecture": type(model).__name__,
        "createdAt": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": {
            "name": INPUT,
            "dtype": "float32",
            "shape": list(shape),
            "layout": "CHW",
            "pixelScale": 1 / 255,
            "mean": ds.mean,
            "std": ds.std,
            "colorSpace": "gray" if shape[0] == 1 else "rgb",
            "preprocessing": "value = (pixel * pixelScale - mean[c]) / std[c]",
        },
        "labels": ds.labels,
        "stages": [{"file": f"stage{c.index + 1}.onnx", "inputs": c.inputs, "outputs": c.outputs} for c in checks],
        "exits": [
            {"stage": k, "flops": flops[k], "accuracy": {"val": round(val_acc[k], 5), "test": round(test_acc[k], 5)}}
            for k in range(model.n_exits)
        ],
        "flopsConvention": FLOPS_CONVENTION,
        "parameters": count_parameters(model),
        "calibration": "calibration.json",
        "evaluation": "evaluation.json",
        "training": {
            "config": cfg.to_dict(),
            "epochsTrained": int(meta["epoch"]) + 1,
            "args": dict(meta["args"]),
            "data": meta["dataset"]["source"],
        },
        "opset": OPSET,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    manifest["fused"] = fuse(out)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    log(f"exported {model.n_exits} stages and the fused graph to {out}")
    for k in range(model.n_exits):
        log(f"  exit {k + 1}: {flops[k] / 1e6:7.3f} MMACs  val {100 * val_acc[k]:.2f}%  test {100 * test_acc[k]:.2f}%")
    return manifest


def model_from_checkpoint(ck: dict, arch_name: str | None, model_spec: str | None, path: str) -> MultiExitModel:
    saved = ck.get("arch", "ranet")
    if model_spec:
        model = load_callable(model_spec)()
    else:
        if arch_name and arch_name != saved:
            raise UsageError(f"--checkpoint {path} holds a {saved} model, not {arch_name} (--arch)")
        if saved not in list_models():
            raise UsageError(
                f"--checkpoint {path} holds a {saved!r} model, not a registered architecture; "
                f"pass --model FILE.py:CALLABLE"
            )
        model = get_arch(saved).build(ck["config"])
    check_interface(model)
    result = model.load_state_dict(ck["model"], strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UsageError(
            f"--checkpoint {path} does not fit {type(model).__name__}: "
            f"missing {result.missing_keys[:4]}{'...' if len(result.missing_keys) > 4 else ''}, "
            f"unexpected {result.unexpected_keys[:4]}{'...' if len(result.unexpected_keys) > 4 else ''}"
        )
    return model


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python3 -m multiexit export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", help="best.pt or checkpoint.pt written by the train command")
    ap.add_argument("--arch", choices=list_models(), help="architecture (default: the checkpoint's; ranet otherwise)")
    ap.add_argument("--model", help="FILE.py:CALLABLE returning your own model on the staging interface")
    ap.add_argument("--out", help="output model folder (e.g. repository/msdnet-fmnist/1)")
    ap.add_argument("--name", help="model name in the manifest (default ARCH-fmnist)")
    ap.add_argument("--version", default="1", help="model version in the manifest (default 1)")
    ap.add_argument("--data-dir", default=None, help="data folder if not the one recorded in the checkpoint")
    ap.add_argument("--no-onnx-check", action="store_true", help="skip running the stages in onnxruntime-node")
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="export an untrained tiny model (512 test images) into a temp folder unless --out: a smoke test",
    )
    ap.add_argument(
        "--random-weights",
        metavar="PRESET",
        help="export the architecture's PRESET with seeded random weights and random calibration images into --out: "
        "a model of that size to benchmark serving on (e.g. --arch ranet paper-cifar10); its accuracies mean nothing",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    arch_name = args.arch or "ranet"

    if args.random_weights:
        if not args.out:
            raise UsageError("--random-weights needs --out")
        cfg = get_arch(arch_name).preset(args.random_weights)
        torch.manual_seed(0)
        model = get_arch(arch_name).model_class(cfg)
        ds = data_mod.synthetic(cfg.in_channels, cfg.in_size, cfg.num_classes, 256)
        meta = {"epoch": -1, "args": {"random_weights": args.random_weights}, "dataset": {"source": ds.source}}
        out = args.out
    elif args.dry_run:
        torch.manual_seed(0)
        if args.model:
            model = load_callable(args.model)()
        else:
            model = get_arch(arch_name).model_class(get_arch(arch_name).preset("tiny"))
        ds = data_mod.load("fmnist", args.data_dir, 256, 0, limit=512)
        meta = {"epoch": -1, "args": {"dry_run": True}, "dataset": {"source": ds.source}}
        out = args.out or tempfile.mkdtemp(prefix=f"{arch_name}-export-")
    else:
        if not args.checkpoint or not args.out:
            raise UsageError("--checkpoint and --out are required (or --dry-run, or --random-weights)")
        ck = torch.load(args.checkpoint)
        model = model_from_checkpoint(ck, args.arch, args.model, args.checkpoint)
        targs = ck["args"]
        ds = data_mod.load(
            ck["dataset"]["name"], args.data_dir or ck["dataset"]["source"]["root"], targs["val_size"], targs["seed"]
        )
        if ds.mean != ck["dataset"]["mean"]:
            raise UsageError("data set differs from the one the checkpoint was trained on (mean mismatch)")
        meta = ck
        out = args.out
    name = args.name or f"{getattr(model, 'arch', arch_name) or arch_name}-fmnist"
    export_model(model, ds, out, name, args.version, meta, onnx_check=not args.no_onnx_check)

"""Check a model folder the way the server will load it, and say what is wrong.

    python3 -m multiexit validate repository/ranet-fmnist/1
    python3 -m multiexit validate my-model/ --run        # also run the stages in onnxruntime-node

Checks: manifest.json against manifest.schema.json; one exit per stage and strictly increasing
cumulative FLOPs; every stage input produced by an earlier stage (or the model input), every
stage writing `logits`; each ONNX file loads, passes onnx.checker and has exactly the manifest's
input and output names, float32, a free batch axis, the input shape [batch, C, H, W], logits
[batch, classes], and each carried tensor the shape its producer writes; the fused graph's
interface; the calibration and evaluation files' sizes, exits and classes. With --run, the stages
run on two zero images in onnxruntime-node and every exit's logits must be finite.
Exit status 0 when the folder is servable, 1 with one line per problem otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx

SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "manifest.schema.json")
Shape = Tuple[Optional[int], ...]


def graph_io(path: str):
    """(inputs, outputs) of an ONNX file as {name: (elem_type, shape)}; None for a free dim."""
    model = onnx.load(path)
    onnx.checker.check_model(model)

    def desc(values) -> Dict[str, Tuple[int, Shape]]:
        out = {}
        for v in values:
            t = v.type.tensor_type
            out[v.name] = (t.elem_type, tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim))
        return out

    inits = {i.name for i in model.graph.initializer}
    return desc(i for i in model.graph.input if i.name not in inits), desc(model.graph.output), model


def check_logit_file(folder: str, ref: str, exits: int, classes: int, problems: List[str]) -> None:
    path = os.path.join(folder, ref)
    try:
        with open(path) as f:
            head = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"{ref}: cannot read ({e}); export writes it next to manifest.json")
        return
    if head.get("exits") != exits or head.get("classes") != classes:
        problems.append(
            f"{ref}: holds {head.get('exits')} exits x {head.get('classes')} classes, the manifest "
            f"{exits} x {classes}; re-export the model"
        )
    if len(head.get("labels", [])) != head.get("count"):
        problems.append(f"{ref}: {len(head.get('labels', []))} labels for count {head.get('count')}")
    data = os.path.join(folder, head.get("file", ""))
    want = 4 * int(head.get("count", 0)) * exits * classes
    if not os.path.isfile(data):
        problems.append(f"{ref}: its data file {head.get('file')!r} is missing")
    elif os.path.getsize(data) != want:
        problems.append(
            f"{head.get('file')}: {os.path.getsize(data)} bytes, expected {want} (float32 [count, exits, classes])"
        )


def validate(folder: str, run: bool = False) -> List[str]:
    problems: List[str] = []
    mpath = os.path.join(folder, "manifest.json")
    try:
        with open(mpath) as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        return [f"manifest.json: cannot read ({e})"]
    try:
        import jsonschema

        with open(SCHEMA) as f:
            schema = json.load(f)
        for err in sorted(jsonschema.Draft202012Validator(schema).iter_errors(m), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.path) or "(root)"
            problems.append(f"manifest.json: {where}: {err.message}")
    except ImportError:
        problems.append("python3-jsonschema is not installed: the schema check did not run")
    if problems:
        return problems

    c, h, w = m["input"]["shape"]
    classes, k_exits = len(m["labels"]), len(m["stages"])
    if len(m["input"]["mean"]) != c or len(m["input"]["std"]) != c:
        problems.append(f"manifest.json: input.mean and input.std need {c} entries (one per channel)")
    if (m["input"]["colorSpace"] == "gray") != (c == 1) or (m["input"]["colorSpace"] == "rgb") != (c == 3):
        problems.append(f"manifest.json: input.colorSpace {m['input']['colorSpace']} does not fit {c} channels")
    if len(m["exits"]) != k_exits:
        problems.append(f"manifest.json: {len(m['exits'])} exits for {k_exits} stages; expected one exit per stage")
    for k, e in enumerate(m["exits"]):
        if e["stage"] != k:
            problems.append(f"manifest.json: exits[{k}].stage is {e['stage']}, expected {k}")
        if k and e["flops"] <= m["exits"][k - 1]["flops"]:
            problems.append(
                f"manifest.json: exits[{k}].flops ({e['flops']}) must exceed exits[{k - 1}].flops "
                f"({m['exits'][k - 1]['flops']}): FLOPs are cumulative"
            )

    produced: Dict[str, Tuple[int, Shape]] = {m["input"]["name"]: (onnx.TensorProto.FLOAT, (None, c, h, w))}
    for k, st in enumerate(m["stages"]):
        where = f"stage {k + 1} ({st['file']})"
        path = os.path.join(folder, st["file"])
        if not os.path.isfile(path):
            problems.append(f"{where}: file is missing")
            continue
        try:
            ins, outs, _ = graph_io(path)
        except Exception as e:  # noqa: BLE001 - report any load or checker failure
            problems.append(f"{where}: not a valid ONNX model ({str(e).splitlines()[0]})")
            continue
        if list(ins) != st["inputs"]:
            problems.append(f"{where}: graph inputs {list(ins)}, the manifest says {st['inputs']}")
        if list(outs) != st["outputs"]:
            problems.append(f"{where}: graph outputs {list(outs)}, the manifest says {st['outputs']}")
        if "logits" not in st["outputs"]:
            problems.append(f"{where}: writes no 'logits' output")
        for name, (dtype, shape) in {**ins, **outs}.items():
            if dtype != onnx.TensorProto.FLOAT:
                problems.append(f"{where}: tensor '{name}' is {onnx.TensorProto.DataType.Name(dtype)}, expected FLOAT")
            if not shape or shape[0] is not None:
                problems.append(
                    f"{where}: tensor '{name}' has no free batch axis (shape {shape}); export with dynamic_axes"
                )
        for name, (_, shape) in ins.items():
            if name not in produced:
                problems.append(f"{where}: reads tensor '{name}' that no earlier stage writes")
                continue
            want = produced[name][1]
            if len(want) != len(shape) or any(a is not None and b is not None and a != b for a, b in zip(want, shape)):
                problems.append(f"{where}: tensor '{name}' has shape {shape}, its producer writes {want}")
        if "logits" in outs:
            shape = outs["logits"][1]
            if len(shape) != 2 or (shape[1] is not None and shape[1] != classes):
                problems.append(f"{where}: logits shape {shape}, expected [batch, {classes}] ({classes} labels)")
        produced.update(outs)

    fused = m.get("fused")
    if fused:
        want = [f"logits_{k + 1}" for k in range(k_exits)]
        if fused["inputs"] != [m["input"]["name"]] or fused["outputs"] != want:
            problems.append(
                f"fused: must map [{m['input']['name']}] to {want}; says {fused['inputs']} -> {fused['outputs']}"
            )
        path = os.path.join(folder, fused["file"])
        if not os.path.isfile(path):
            problems.append(f"fused ({fused['file']}): file is missing")
        else:
            try:
                ins, outs, _ = graph_io(path)
                if list(ins) != fused["inputs"] or list(outs) != fused["outputs"]:
                    problems.append(
                        f"fused ({fused['file']}): graph maps {list(ins)} -> {list(outs)}, the manifest says otherwise"
                    )
            except Exception as e:  # noqa: BLE001
                problems.append(f"fused ({fused['file']}): not a valid ONNX model ({str(e).splitlines()[0]})")

    for key in ("calibration", "evaluation"):
        if m.get(key):
            check_logit_file(folder, m[key], k_exits, classes, problems)
    if not m.get("calibration"):
        problems.append(
            "manifest.json: no calibration file: the server then has no budget thresholds (fixed exits only)"
        )
    if run and not problems:
        problems += run_stages(folder, (c, h, w), k_exits, classes)
    return problems


def run_stages(folder: str, shape, exits: int, classes: int) -> List[str]:
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_chain.mjs")
    with tempfile.TemporaryDirectory() as tmp:
        np.zeros((2, *shape), "<f4").tofile(os.path.join(tmp, "in.bin"))
        res = subprocess.run(
            ["node", script, folder, os.path.join(tmp, "in.bin"), "2", os.path.join(tmp, "out.bin")],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            return [f"--run: onnxruntime-node failed: {res.stderr.strip()[-1000:]}"]
        out = np.fromfile(os.path.join(tmp, "out.bin"), "<f4")
        if out.size != 2 * exits * classes or not np.isfinite(out).all():
            return [f"--run: the stages gave {out.size} logits (expected {2 * exits * classes}) or non-finite values"]
    return []


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python3 -m multiexit validate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model_dir", help="model folder (manifest.json and its files)")
    ap.add_argument("--run", action="store_true", help="also run the stages in onnxruntime-node (needs npm ci)")
    args = ap.parse_args(argv)
    problems = validate(args.model_dir, args.run)
    for p in problems:
        print(f"{args.model_dir}: {p}")
    if problems:
        return 1
    print(f"{args.model_dir}: OK, servable")
    return 0

"""Rebuild a training checkpoint of a registered architecture from its exported model folder.

For a model whose checkpoint was lost: the stage ONNX files hold every weight, with each
BatchNorm folded into the conv before it (ONNX export in eval mode). The recovered checkpoint
puts the folded weights in the convs and makes each BatchNorm the identity (mean 0, variance
1 - eps, weight 1) with the folded bias. It answers exactly as the exported model (re-export it
and compare), but its BatchNorm statistics are gone: fine-tuning from it starts from folded
weights.

    python3 -m multiexit.recover repository/ranet-fmnist/1 --out checkpoints/ranet-fmnist.pt

Convs and linears are matched to ONNX Conv and Gemm nodes in execution order, stage by stage;
every shape must agree or the recovery stops.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

from .archs import get_arch
from .interface import INPUT
from .errors import MultiExitError, cli


def executed(model: nn.Module, stages, image: torch.Tensor) -> List[List[nn.Module]]:
    """Conv2d, BatchNorm2d and Linear modules in the order each stage runs them."""
    per_stage: List[List[nn.Module]] = []
    handles = [
        m.register_forward_hook(lambda m, *_: per_stage[-1].append(m))
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))
    ]
    env = {INPUT: image}
    try:
        with torch.no_grad():
            for st in stages:
                per_stage.append([])
                env.update(zip(st.outputs, st(*(env[n] for n in st.inputs))))
    finally:
        for h in handles:
            h.remove()
    return per_stage


def recover(model_dir: str) -> dict:
    with open(os.path.join(model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    training = manifest["training"]
    arch = get_arch(manifest["architecture"].lower())
    model = arch.build(training["config"]).eval()
    stages = model.stages()
    order = executed(model, stages, torch.zeros(1, *manifest["input"]["shape"]))
    for k, (mods, st) in enumerate(zip(order, manifest["stages"])):
        graph = onnx.load(os.path.join(model_dir, st["file"])).graph
        inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        nodes = [n for n in graph.node if n.op_type in ("Conv", "Gemm")]
        layers = [m for m in mods if isinstance(m, (nn.Conv2d, nn.Linear))]
        if len(nodes) != len(layers):
            raise MultiExitError(f"stage {k + 1}: {len(nodes)} Conv/Gemm nodes for {len(layers)} conv/linear modules")
        bns = iter(m for m in mods if isinstance(m, nn.BatchNorm2d))
        for node, layer in zip(nodes, layers):
            weight = inits[node.input[1]]
            bias = inits[node.input[2]] if len(node.input) > 2 else None
            if tuple(weight.shape) != tuple(layer.weight.shape):
                raise MultiExitError(
                    f"stage {k + 1}: node {node.name} weight {weight.shape} != {tuple(layer.weight.shape)}"
                )
            layer.weight.data.copy_(torch.from_numpy(np.array(weight)))
            if isinstance(layer, nn.Linear):
                layer.bias.data.copy_(torch.from_numpy(np.array(bias)))
                continue
            bn = next(bns)
            # identity in float32: weight / sqrt(var + eps) == 1 exactly, so folding it again is exact
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.data.copy_(torch.sqrt(bn.running_var + bn.eps))
            bn.bias.data.copy_(torch.from_numpy(np.array(bias)))
    val_acc = [e["accuracy"]["val"] for e in manifest["exits"]]
    return {
        "arch": arch.name,
        "config": training["config"],
        "model": model.state_dict(),
        "epoch": training["epochsTrained"] - 1,
        "dataset": {
            "name": training["data"]["dataset"],
            "labels": manifest["labels"],
            "mean": manifest["input"]["mean"],
            "std": manifest["input"]["std"],
            "source": training["data"],
        },
        "args": training["args"],
        "val_acc": val_acc,
        "recovered_from": "stage ONNX files (BatchNorm folded into the convs)",
    }


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python3 -m multiexit.recover", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model_dir", help="exported model folder (manifest.json and its stage files)")
    ap.add_argument("--out", required=True, help="checkpoint file to write")
    args = ap.parse_args(argv)
    payload = recover(args.model_dir)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save(payload, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(cli(main))

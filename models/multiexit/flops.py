"""Multiply-add counter with the reference convention (RANet/MSDNet `measure_model`).

conv: in*out*k*k*Hout*Wout/groups (no bias); ReLU: output elements; pooling: output
elements*k*k; Linear: weights + bias; BatchNorm, interpolation, concat and slicing: 0.
Counts are per sample (one forward of a 1xCxHxW input) and CUMULATIVE per exit: exit k
includes everything run before it, earlier exit heads included. The model marks its exits
(`exit_heads()`); nobody writes FLOPs by hand.

    python3 -m multiexit flops --arch ranet --preset paper-cifar10
    python3 -m multiexit flops --arch msdnet --preset cifar10-log
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Sequence

import torch
import torch.nn as nn

from .archs import get_arch, list_models
from .interface import INPUT, LOGITS, MultiExitModel, Stage, count_parameters

COUNTED = (nn.Conv2d, nn.ReLU, nn.AvgPool2d, nn.MaxPool2d, nn.Linear)


def module_flops(m: nn.Module, out: torch.Tensor) -> int:
    per_sample = out[0]
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size[0] * m.kernel_size[1]
        return m.in_channels * m.out_channels * k * per_sample.numel() // (m.out_channels * m.groups)
    if isinstance(m, nn.ReLU):
        return per_sample.numel()
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
        k = m.kernel_size
        k = k * k if isinstance(k, int) else k[0] * k[1]
        return per_sample.numel() * k
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)
    return 0


@contextmanager
def counting(model: nn.Module, exit_heads: Sequence[nn.Module], on_exit: Callable[[int], None]) -> Iterator[List[int]]:
    """Counts multiply-adds of every forward inside the block; calls on_exit(total) after each
    exit head's forward. Puts the model in eval mode and restores its mode afterwards."""
    total = [0]
    handles = []

    def count(m: nn.Module, _inp, out) -> None:
        total[0] += module_flops(m, out)

    for m in model.modules():
        if isinstance(m, COUNTED):
            handles.append(m.register_forward_hook(count))
    for head in exit_heads:
        handles.append(head.register_forward_hook(lambda *_: on_exit(total[0])))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield total
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def probe_input(model: MultiExitModel) -> torch.Tensor:
    return torch.zeros(1, *model.input_shape())


def cumulative_exit_flops(model: MultiExitModel) -> List[int]:
    """The model's own count: one full forward, the running total read after each exit head."""
    per_exit: List[int] = []
    with counting(model, model.exit_heads(), per_exit.append):
        model(probe_input(model))
    return per_exit


def staged_exit_flops(model: MultiExitModel, stages: Sequence[Stage]) -> List[int]:
    """What the staged execution performs: the running total after each stage, cumulative."""
    per_exit: List[int] = []
    with counting(model, [], lambda _: None) as total:
        env: Dict[str, torch.Tensor] = {INPUT: probe_input(model)}
        for st in stages:
            env.update(zip(st.outputs, st(*(env[n] for n in st.inputs))))
            if LOGITS in st.outputs:
                per_exit.append(total[0])
    return per_exit


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python3 -m multiexit flops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--arch", default="ranet", choices=list_models(), help="architecture (default ranet)")
    ap.add_argument("--preset", default="fmnist", help="the architecture's preset (default fmnist)")
    args = ap.parse_args(argv)
    arch = get_arch(args.arch)
    model = arch.model_class(arch.preset(args.preset))
    flops = cumulative_exit_flops(model)
    print(f"{args.arch} {args.preset}: {count_parameters(model):,} parameters, {len(flops)} exits")
    for k, f in enumerate(flops, 1):
        print(f"  exit {k}: {f / 1e6:8.3f} MMACs (cumulative)")

"""Multiply-add counter with the reference convention (RANet/MSDNet `measure_model`).

conv: in*out*k*k*Hout*Wout/groups (no bias); ReLU: output elements; pooling: output
elements*k*k; Linear: weights + bias; BatchNorm, interpolation, concat and slicing: 0.
Counts are per sample (one forward of a 1xCxHxW input) and CUMULATIVE per exit: exit k
includes everything run before it, earlier exit heads included.

    python3 flops.py --preset paper-cifar10
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from typing import Callable, Iterator, List

import torch
import torch.nn as nn

from config import RANetConfig, preset
from model import ExitHead, RANet, count_parameters


def module_flops(m: nn.Module, out: torch.Tensor) -> int:
    per_sample = out[0]
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size[0] * m.kernel_size[1]
        return m.in_channels * m.out_channels * k * per_sample.numel() // (m.out_channels * m.groups)
    if isinstance(m, nn.ReLU):
        return per_sample.numel()
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m.kernel_size, int):
            k = k * k
        return per_sample.numel() * k
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)
    return 0


@contextmanager
def counting(model: nn.Module, on_exit: Callable[[int], None]) -> Iterator[List[int]]:
    """Counts multiply-adds of every forward inside the block; calls on_exit(total) after each
    exit head. Puts the model in eval mode and restores its mode afterwards."""
    total = [0]
    handles = []

    def count(m: nn.Module, _inp, out) -> None:
        total[0] += module_flops(m, out)

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ReLU, nn.AvgPool2d, nn.MaxPool2d, nn.Linear)):
            handles.append(m.register_forward_hook(count))
        elif isinstance(m, ExitHead):
            handles.append(m.register_forward_hook(lambda *_: on_exit(total[0])))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield total
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def cumulative_exit_flops(model: RANet) -> List[int]:
    cfg = model.cfg
    per_exit: List[int] = []
    with counting(model, per_exit.append):
        model(torch.zeros(1, cfg.in_channels, cfg.in_size, cfg.in_size))
    return per_exit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="paper-cifar10", help="model preset (config.py PRESETS)")
    args = ap.parse_args()
    cfg: RANetConfig = preset(args.preset)
    model = RANet(cfg)
    flops = cumulative_exit_flops(model)
    print(f"preset {args.preset}: {count_parameters(model):,} parameters, {len(flops)} exits")
    for k, f in enumerate(flops, 1):
        print(f"  exit {k}: {f / 1e6:8.3f} MMACs (cumulative)")


if __name__ == "__main__":
    main()

"""The staging interface every multi-exit architecture implements.

A `MultiExitModel` is an nn.Module whose `forward(image)` returns every exit's logits (a list,
exit order), that names the modules that end each exit (`exit_heads`, so the FLOPs counter can
read the running total after each one), and that splits itself into sequential stages
(`stages`), one per exit. A stage is a module with named inputs and outputs:

- it reads `image` (the preprocessed request tensor) or tensors that earlier stages wrote;
- it writes `logits` (its exit's logits) and any tensors later stages read;
- a stage input named X is fed from the most recent earlier stage output named X.

The exporter (`export.py`) turns any such model into what the server serves: one ONNX file per
stage, the fused whole-network graph, manifest.json, calibration logits and parity fixtures.
It checks the stages against `forward` (same logits, same FLOPs per exit) and drops outputs that
no later stage reads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, List, Sequence, Tuple

import torch
import torch.nn as nn

INPUT = "image"
LOGITS = "logits"


class Stage(nn.Module):
    """One stage: `forward(*inputs)` returns the tensors named by `outputs`, in that order.

    `fn` is usually a bound method of `owner` (the model), so the stage shares the model's
    parameters; `owner` is registered as a submodule so that ONNX export finds them."""

    def __init__(self, owner: nn.Module, fn: Callable[..., Any], inputs: Sequence[str], outputs: Sequence[str]):
        super().__init__()
        self.owner = owner
        self.fn = fn
        self.inputs: List[str] = list(inputs)
        self.outputs: List[str] = list(outputs)

    def forward(self, *inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.fn(*inputs)
        if isinstance(out, torch.Tensor):
            out = (out,)
        return tuple(out)


class MultiExitModel(nn.Module):
    """Base class of the architectures. Subclasses set `arch` (the registry name) and `config`
    (a dataclass with `to_dict`, `in_channels`, `in_size`, `num_classes`) and implement the
    three methods below."""

    arch: str = ""
    config: Any

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def exit_heads(self) -> List[nn.Module]:  # pragma: no cover - abstract
        """The module whose forward ends exit k, for every k in exit order (its classifier)."""
        raise NotImplementedError

    def stages(self) -> List[Stage]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def n_exits(self) -> int:
        return len(self.exit_heads())

    def input_shape(self) -> Tuple[int, int, int]:
        c = self.config
        return (c.in_channels, c.in_size, c.in_size)


REQUIRED = ("forward", "exit_heads", "stages", "config")


def missing_interface(model: object) -> List[str]:
    """Names of the interface members `model` lacks (empty when it implements the interface)."""
    missing = [name for name in REQUIRED if not hasattr(model, name)]
    if not isinstance(model, nn.Module):
        missing.insert(0, "nn.Module base class")
    elif not missing and type(model).stages is MultiExitModel.stages:
        missing.append("stages")
    return missing


@dataclass
class StageCheck:
    """What the exporter derived for one stage: the inputs it reads and the outputs a later stage
    reads (logits first)."""

    index: int
    inputs: List[str]
    outputs: List[str]


def reference_init(model: nn.Module) -> None:
    """The RANet and MSDNet reference initialisation: conv weights N(0, sqrt(2/(k*k*out))), BatchNorm
    weight 1 and bias 0, linear bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()
        elif isinstance(m, nn.Linear):
            m.bias.data.zero_()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

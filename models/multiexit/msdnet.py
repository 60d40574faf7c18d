"""MSDNet (Huang et al., "Multi-Scale Dense Networks for Resource Efficient Image
Classification", ICLR 2018), built as the reference implementation (kalviny/MSDNet-PyTorch)
builds it for small images, and split into one stage per exit.

The network keeps features at `len(gr_factor)` scales, FINEST first (scale 0 = input
resolution, each further scale half the side). Every layer adds `growth_rate * gr_factor[s]`
channels at each scale s it keeps: at the finest kept scale from the same scale (a "normal"
bottleneck conv), at coarser scales from the same scale and from the next finer one (a strided
"down" conv), each half of the new channels. Layers drop finer scales as the network deepens
(`prune`), with a 1x1 transition (`reduction`) after a layer that dropped one. Block k (of
`base` layers for the first, then `step` more each, or `step*k+1` for `stepmode lin_grow`) ends
with exit k's classifier, which reads the coarsest scale.

Staging: stage k runs block k (the first layer as well for k = 0) and its classifier; it reads
the previous block's scales and writes its own, `b{block}_s{scale}` with the absolute scale index.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import torch
import torch.nn as nn

from .archs import register_model
from .interface import INPUT, LOGITS, MultiExitModel, Stage, reference_init


@dataclass(frozen=True)
class MSDNetConfig:
    n_blocks: int = 10  # blocks = exits
    base: int = 4  # layers of the first block
    step: int = 2  # layers of every later block (even), or the growth per block (lin_grow: step*k+1)
    stepmode: str = "even"  # 'even' or 'lin_grow'
    gr_factor: List[int] = field(default_factory=lambda: [1, 2, 4])  # per scale, finest first
    bn_factor: List[int] = field(default_factory=lambda: [1, 2, 4])  # bottleneck width factor per scale
    n_channels: int = 16  # first-layer channels at the finest scale (times gr_factor at each scale)
    growth_rate: int = 6
    reduction: float = 0.5  # transition keeps floor(reduction * C); 0 = no transitions
    bottleneck: bool = True
    prune: str = "max"  # 'max' or 'min': when layers drop their finest scale
    head_channels: int = 128  # the two 3x3 convs of every classifier
    in_channels: int = 3
    in_size: int = 32
    num_classes: int = 10

    def __post_init__(self) -> None:
        if len(self.gr_factor) < 1 or len(self.bn_factor) != len(self.gr_factor):
            raise ValueError(
                f"gr_factor ({len(self.gr_factor)}) and bn_factor ({len(self.bn_factor)}) need one entry per scale"
            )
        if self.stepmode not in ("even", "lin_grow"):
            raise ValueError(f"stepmode must be 'even' or 'lin_grow', got {self.stepmode!r}")
        if self.prune not in ("max", "min"):
            raise ValueError(f"prune must be 'max' or 'min', got {self.prune!r}")
        for name in ("n_blocks", "base", "n_channels", "growth_rate", "head_channels", "in_channels", "in_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.step < 0 or (self.step == 0 and self.stepmode == "even" and self.n_blocks > 1):
            raise ValueError(f"step must be >= 1 for stepmode even, got {self.step}")
        if not 0 <= self.reduction <= 1:
            raise ValueError(f"reduction must be in [0, 1], got {self.reduction}")

    @property
    def n_scales(self) -> int:
        return len(self.gr_factor)

    def block_layers(self) -> List[int]:
        """Layers per block, as the reference: base, then step (even) or step*k+1 (lin_grow)."""
        return [self.base] + [
            self.step if self.stepmode == "even" else self.step * k + 1 for k in range(1, self.n_blocks)
        ]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "MSDNetConfig":
        return MSDNetConfig(**d)


PRESETS: Dict[str, MSDNetConfig] = {
    # The reference's CIFAR-10 anytime configuration (README: --nBlocks 7 --stepmode even --step 2
    # --base 4 --nChannels 16; growthRate 6, grFactor and bnFactor 1-2-4, prune max, reduction 0.5).
    "cifar10-anytime": MSDNetConfig(n_blocks=7),
    # The configuration whose printed model is the reference's check_msdnet/log.txt (--nBlocks 10
    # --step 2 --base 4; the log ends "# of params: 4839544").
    "cifar10-log": MSDNetConfig(n_blocks=10),
    # The reference's CIFAR budgeted-batch configuration (run_budget_cifar.sh: --nBlocks 8
    # --stepmode lin_grow --step 1 --base 1 --nChannels 16).
    "cifar10-budget": MSDNetConfig(n_blocks=8, stepmode="lin_grow", step=1, base=1),
    # The bundled Fashion-MNIST model: 28, 14 and 7 pixel scales, 6 exits, heads as wide as the
    # bundled RANet's (48); 3.14 to 15.73 MMACs (RANet's last exit: 15.29).
    "fmnist": MSDNetConfig(
        n_blocks=6,
        base=2,
        step=2,
        stepmode="even",
        gr_factor=[1, 2, 4],
        bn_factor=[1, 2, 4],
        n_channels=12,
        growth_rate=4,
        head_channels=48,
        in_channels=1,
        in_size=28,
        num_classes=10,
    ),
    # A tiny model for smoke tests (--dry-run) and unit tests.
    "tiny": MSDNetConfig(
        n_blocks=3,
        base=1,
        step=1,
        gr_factor=[1, 2, 2],
        bn_factor=[1, 1, 1],
        n_channels=4,
        growth_rate=4,
        head_channels=8,
        in_channels=1,
        in_size=28,
        num_classes=10,
    ),
}


def conv_bn_relu(n_in: int, n_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(n_in, n_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(n_out),
        nn.ReLU(inplace=True),
    )


def bottleneck_conv(n_in: int, n_out: int, stride: int, bottleneck: bool, bn_width: int) -> nn.Sequential:
    """[1x1 to min(n_in, bn_width*n_out) +BN+ReLU] then 3x3 (stride 1 or 2) +BN+ReLU."""
    if not bottleneck:
        return conv_bn_relu(n_in, n_out, 3, stride)
    inner = min(n_in, bn_width * n_out)
    return nn.Sequential(*conv_bn_relu(n_in, inner, 1), *conv_bn_relu(inner, n_out, 3, stride))


class SameScale(nn.Module):
    """Finest kept scale: concat(x, conv(x))."""

    def __init__(self, n_in: int, n_new: int, bottleneck: bool, bn_width: int):
        super().__init__()
        self.conv = bottleneck_conv(n_in, n_new, 1, bottleneck, bn_width)

    def forward(self, finer: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(x)], dim=1)


class DownAndSameScale(nn.Module):
    """Coarser scale: concat(x, strided conv(finer), conv(x)), half the new channels each."""

    def __init__(self, n_in_finer: int, n_in: int, n_new: int, bottleneck: bool, bn_finer: int, bn_own: int):
        super().__init__()
        self.down = bottleneck_conv(n_in_finer, n_new // 2, 2, bottleneck, bn_finer)
        self.same = bottleneck_conv(n_in, n_new // 2, 1, bottleneck, bn_own)

    def forward(self, finer: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.down(finer), self.same(x)], dim=1)


class FirstLayer(nn.Module):
    """3x3 conv at the input resolution, then a 3x3 stride-2 conv per further scale."""

    def __init__(self, cfg: MSDNetConfig):
        super().__init__()
        self.convs = nn.ModuleList()
        n_in = cfg.in_channels
        for s, gr in enumerate(cfg.gr_factor):
            self.convs.append(conv_bn_relu(n_in, cfg.n_channels * gr, 3, 1 if s == 0 else 2))
            n_in = cfg.n_channels * gr

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        out = []
        for conv in self.convs:
            x = conv(x)
            out.append(x)
        return out


class MSDLayer(nn.Module):
    """One layer over scales: reads `in_scales` tensors (coarsest last), writes `out_scales`; when
    it keeps fewer scales, the dropped finest one only feeds the strided conv of the next."""

    def __init__(self, cfg: MSDNetConfig, n_in: int, growth: int, in_scales: int, out_scales: int):
        super().__init__()
        n_scales = cfg.n_scales
        self.offset = n_scales - out_scales
        self.discard = in_scales - out_scales
        gr, bn = cfg.gr_factor, cfg.bn_factor
        self.convs = nn.ModuleList()
        for s in range(self.offset, n_scales):
            if s == self.offset and self.discard == 0:
                self.convs.append(SameScale(n_in * gr[s], growth * gr[s], cfg.bottleneck, bn[s]))
            else:
                self.convs.append(
                    DownAndSameScale(n_in * gr[s - 1], n_in * gr[s], growth * gr[s], cfg.bottleneck, bn[s - 1], bn[s])
                )

    def forward(self, xs: List[torch.Tensor]) -> List[torch.Tensor]:
        out = []
        for j, conv in enumerate(self.convs):
            i = j + self.discard  # index in xs of this output's own scale
            out.append(conv(xs[i - 1] if i > 0 else None, xs[i]))
        return out


class Transition(nn.Module):
    """1x1 conv+BN+ReLU at every kept scale, to floor(reduction * C) channels."""

    def __init__(self, cfg: MSDNetConfig, n_in: int, n_out: int, out_scales: int):
        super().__init__()
        offset = cfg.n_scales - out_scales
        self.convs = nn.ModuleList(
            conv_bn_relu(n_in * cfg.gr_factor[s], n_out * cfg.gr_factor[s], 1) for s in range(offset, cfg.n_scales)
        )

    def forward(self, xs: List[torch.Tensor]) -> List[torch.Tensor]:
        return [conv(x) for conv, x in zip(self.convs, xs)]


class Classifier(nn.Module):
    """The reference CIFAR classifier on the coarsest scale: conv3x3 s2, conv3x3 s2, AvgPool,
    Linear (AvgPool(2) is global on 8x8 and 7x7 coarsest maps)."""

    def __init__(self, n_in: int, width: int, num_classes: int, resolution: int):
        super().__init__()
        pooled = ((resolution + 1) // 2 + 1) // 2
        self.features = nn.Sequential(
            conv_bn_relu(n_in, width, 3, 2),
            conv_bn_relu(width, width, 3, 2),
            nn.AvgPool2d(pooled),
        )
        self.linear = nn.Linear(width, num_classes)

    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        return self.linear(torch.flatten(self.features(xs[-1]), 1))


def layer_scales(cfg: MSDNetConfig, layer: int, n_layers_all: int) -> tuple:
    """(in_scales, out_scales) of 1-based `layer` of `n_layers_all`, as the reference's prune rule."""
    n = cfg.n_scales
    if cfg.prune == "min":
        return min(n, n_layers_all - layer + 2), min(n, n_layers_all - layer + 1)
    interval = math.ceil(n_layers_all / n)
    return n - math.floor(max(0, layer - 2) / interval), n - math.floor((layer - 1) / interval)


@register_model("msdnet", MSDNetConfig, PRESETS)
class MSDNet(MultiExitModel):
    arch = "msdnet"

    def __init__(self, cfg: MSDNetConfig):
        super().__init__()
        self.config = cfg
        steps = cfg.block_layers()
        n_all, layer = sum(steps), 0
        n_in = cfg.n_channels
        resolution = cfg.in_size
        for _ in range(cfg.n_scales - 1):
            resolution = (resolution + 1) // 2
        self.blocks = nn.ModuleList()
        self.classifiers = nn.ModuleList()
        self.block_scales: List[int] = []  # scales each block's output keeps
        for k in range(cfg.n_blocks):
            mods: List[nn.Module] = [FirstLayer(cfg)] if k == 0 else []
            out_s = cfg.n_scales if k == 0 else self.block_scales[-1]
            for _ in range(steps[k]):
                layer += 1
                in_s, out_s = layer_scales(cfg, layer, n_all)
                mods.append(MSDLayer(cfg, n_in, cfg.growth_rate, in_s, out_s))
                n_in += cfg.growth_rate
                if cfg.reduction > 0 and (
                    (cfg.prune == "max" and in_s > out_s)
                    or (cfg.prune == "min" and layer in (math.floor(n_all / 3), math.floor(2 * n_all / 3)))
                ):
                    n_out = math.floor(cfg.reduction * n_in)
                    mods.append(Transition(cfg, n_in, n_out, out_s))
                    n_in = n_out
            self.blocks.append(nn.ModuleList(mods))
            self.block_scales.append(out_s)
            self.classifiers.append(
                Classifier(n_in * cfg.gr_factor[-1], cfg.head_channels, cfg.num_classes, resolution)
            )
        reference_init(self)

    def run_block(self, k: int, xs) -> List[torch.Tensor]:
        for m in self.blocks[k]:
            xs = m(xs)
        return xs

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:
        xs, logits = image, []
        for k in range(len(self.blocks)):
            xs = self.run_block(k, xs)
            logits.append(self.classifiers[k](xs))
        return logits

    def exit_heads(self) -> List[nn.Module]:
        return list(self.classifiers)

    def scale_names(self, k: int) -> List[str]:
        """Names of block k's output tensors (absolute scale indices, finest first)."""
        kept = self.block_scales[k]
        return [f"b{k}_s{s}" for s in range(self.config.n_scales - kept, self.config.n_scales)]

    def stages(self) -> List[Stage]:
        out = []
        for k in range(len(self.blocks)):
            reads = [INPUT] if k == 0 else self.scale_names(k - 1)
            last = k == len(self.blocks) - 1
            writes = [LOGITS] + ([] if last else self.scale_names(k))
            out.append(Stage(self, _StageFn(self, k, last), reads, writes))
        return out


class _StageFn:
    """Block k and its classifier as a function of the stage's inputs."""

    def __init__(self, model: MSDNet, k: int, last: bool):
        self.model, self.k, self.last = model, k, last

    def __call__(self, *inputs: torch.Tensor) -> Sequence[torch.Tensor]:
        xs = inputs[0] if self.k == 0 else list(inputs)
        xs = self.model.run_block(self.k, xs)
        logits = self.model.classifiers[self.k](xs)
        return (logits,) if self.last else (logits, *xs)

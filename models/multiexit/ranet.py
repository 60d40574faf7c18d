"""RANet (Yang et al., "Resolution Adaptive Networks for Efficient Inference", CVPR 2020)
following the reference implementation's structure (yangle15/RANet-pytorch), its config
dataclass and presets, and the model (its layers: ranet_layers.py; its split into one stage per
exit: ranet_stages.py).

Flows run from the lowest resolution (flow 0) to the highest; lists in the config are ordered
from the LOWEST resolution flow (index 0) to the highest, as in the reference. Flow i has
n_blocks + i*block_step blocks: the first n_{i-1} are fusion blocks that read the dense
features of flow i-1, the rest are plain dense blocks, each followed by an exit head.

Stage k runs the blocks between exit k-1 and exit k and returns exit k's `logits` plus every
tensor a later stage reads. Nothing is recomputed across stages. Carried tensors:
  stem{f}         the first-layer features of flow f (all stems are computed in stage 1)
  f{f}_x          flow f's running features (block output after any transition)
  f{f}_b{b}       block b of flow f: its last same-resolution dense tensor. Inside a dense
                  block every feature-list entry (block input, layer outputs) is a channel
                  prefix of the next, so one tensor holds them all.
  f{f}_b{b}_last  the strided last layer's output of a down-sampling block
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
import torch.nn as nn

from .archs import register_model
from .interface import MultiExitModel, Stage, reference_init
from .ranet_layers import DenseBlock, ExitHead, FusionBlock, Stems, downsampling_blocks, transition_after
from .ranet_stages import StageFn, plan_stages


@dataclass(frozen=True)
class RANetConfig:
    n_blocks: int = 2  # blocks of the first (lowest-resolution) flow; flow i has n_blocks + i*block_step
    block_step: int = 2
    step: int = 4  # dense layers per block (stepmode even) or the increment (stepmode lg)
    stepmode: str = "even"  # 'even' or 'lg'
    scale_list: List[int] = field(default_factory=lambda: [1, 2, 3, 3])  # 1 = lowest resolution
    gr_factor: List[int] = field(default_factory=lambda: [4, 2, 1, 1])
    bn_factor: List[int] = field(default_factory=lambda: [4, 2, 1, 1])
    n_channels: int = 16
    growth_rate: int = 6
    reduction: float = 0.5
    compress_factor: float = 0.25
    head_channels: int = 128  # the two 3x3 convs of every exit head
    in_channels: int = 3
    in_size: int = 32
    num_classes: int = 10

    def __post_init__(self) -> None:
        n = len(self.scale_list)
        if n < 1:
            raise ValueError("scale_list must name at least one flow")
        if len(self.gr_factor) != n or len(self.bn_factor) != n:
            raise ValueError(
                f"gr_factor ({len(self.gr_factor)}) and bn_factor ({len(self.bn_factor)}) "
                f"need one entry per flow ({n})"
            )
        if list(self.scale_list) != sorted(self.scale_list) or self.scale_list[0] != 1:
            raise ValueError(f"scale_list must start at 1 and never decrease, got {self.scale_list}")
        if self.stepmode not in ("even", "lg"):
            raise ValueError(f"stepmode must be 'even' or 'lg', got {self.stepmode!r}")
        for name in (
            "n_blocks",
            "step",
            "n_channels",
            "growth_rate",
            "head_channels",
            "in_channels",
            "in_size",
            "num_classes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for i in range(1, n):
            if int(self.growth_rate * self.gr_factor[i] * self.compress_factor) < 1:
                raise ValueError(
                    f"flow {i}: growth_rate*gr_factor*compress_factor must give >= 1 fused "
                    f"channel, got {self.growth_rate}*{self.gr_factor[i]}*{self.compress_factor}"
                )
        if self.block_step < 0:
            raise ValueError(f"block_step must be >= 0, got {self.block_step}")

    @property
    def n_flows(self) -> int:
        return len(self.scale_list)

    def blocks_per_flow(self) -> List[int]:
        return [self.n_blocks + i * self.block_step for i in range(self.n_flows)]

    @property
    def n_exits(self) -> int:
        return self.blocks_per_flow()[-1]

    def layers_in_block(self, block: int) -> int:
        """Dense layers of 0-based block `block` (the same in every flow, so fusion layers line up)."""
        return self.step if self.stepmode == "even" else (block + 1) * self.step

    @property
    def lowest_resolution(self) -> int:
        """Side of the lowest-resolution stem, where every flow ends (3x3 stride-2 convs)."""
        r = self.in_size
        for _ in range(self.scale_list[-1] - 1):
            r = (r + 1) // 2
        return r

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "RANetConfig":
        return RANetConfig(**d)


PRESETS: Dict[str, RANetConfig] = {
    # The paper's CIFAR-10 model (reference: 94.9 MMACs at the last exit, 3.26M parameters).
    "paper-cifar10": RANetConfig(),
    # The bundled Fashion-MNIST model: a width-reduced 3-flow RANet (28, 14, 7 pixels), 6 exits.
    "fmnist": RANetConfig(
        n_blocks=2,
        block_step=2,
        step=2,
        stepmode="even",
        scale_list=[1, 2, 3],
        gr_factor=[4, 2, 1],
        bn_factor=[4, 2, 1],
        n_channels=12,
        growth_rate=6,
        head_channels=48,
        in_channels=1,
        in_size=28,
        num_classes=10,
    ),
    # A tiny model for smoke tests (--dry-run) and unit tests.
    "tiny": RANetConfig(
        n_blocks=1,
        block_step=1,
        step=1,
        stepmode="even",
        scale_list=[1, 2, 3],
        gr_factor=[2, 1, 1],
        bn_factor=[2, 1, 1],
        n_channels=4,
        growth_rate=4,
        head_channels=8,
        in_channels=1,
        in_size=28,
        num_classes=10,
    ),
}


@register_model("ranet", RANetConfig, PRESETS)
class RANet(MultiExitModel):
    arch = "ranet"

    def __init__(self, cfg: RANetConfig):
        super().__init__()
        self.config = cfg
        self.cfg = cfg
        self.stems = Stems(cfg)
        self.flows = nn.ModuleList()
        self.heads = nn.ModuleList()
        counts = cfg.blocks_per_flow()
        # (flow, block) of every exit, in order
        self.exit_positions: List[Tuple[int, int]] = []
        coarse_lists: List[List[int]] = []
        for f in range(cfg.n_flows):
            n_prev = counts[f - 1] if f > 0 else 0
            growth = cfg.growth_rate * cfg.gr_factor[f]
            n_in = cfg.n_channels * cfg.gr_factor[f]
            down_at = downsampling_blocks(counts, f, cfg.scale_list[f])
            flow = nn.ModuleList()
            lists: List[List[int]] = []
            for b in range(counts[f]):
                trans = transition_after(b + 1, counts[f], cfg.scale_list[f])
                n_layers = cfg.layers_in_block(b)
                if b < n_prev:
                    block = FusionBlock(
                        n_layers,
                        n_in,
                        coarse_lists[b],
                        growth,
                        cfg.bn_factor[f],
                        cfg.bn_factor[f - 1],
                        cfg.compress_factor,
                        trans,
                        cfg.reduction,
                        down=(b + 1) in down_at,
                    )
                else:
                    block = DenseBlock(n_layers, n_in, growth, cfg.bn_factor[f], trans, cfg.reduction)
                flow.append(block)
                lists.append(block.list_channels)
                n_in = block.n_out
                if b >= n_prev:
                    self.heads.append(ExitHead(n_in, cfg.head_channels, cfg.num_classes, cfg.lowest_resolution))
                    self.exit_positions.append((f, b))
            coarse_lists = lists
            self.flows.append(flow)
        reference_init(self)

    def exit_heads(self) -> List[nn.Module]:
        return list(self.heads)

    def stages(self) -> List[Stage]:
        return [Stage(self, StageFn(self, p), p.inputs, p.outputs) for p in plan_stages(self)]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        stems = self.stems(x)
        logits: List[torch.Tensor] = []
        coarse: List[List[torch.Tensor]] = []
        for f, flow in enumerate(self.flows):
            h = stems[f]
            lists: List[List[torch.Tensor]] = []
            for b, block in enumerate(flow):
                if block.kind == "fusion":
                    h, feats = block(h, coarse[b])
                else:
                    h, feats = block(h)
                lists.append(feats)
                if block.kind == "dense":
                    logits.append(self.heads[len(logits)](h))
            coarse = lists
        return logits

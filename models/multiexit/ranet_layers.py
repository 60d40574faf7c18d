"""RANet's layers (Yang et al., CVPR 2020; the reference code's structure, yangle15/RANet-pytorch):
convolutions, dense and fusion layers and blocks, exit heads, the stems, and where transitions
and down-sampling blocks go. The model that assembles them is in ranet.py."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

if TYPE_CHECKING:
    from .ranet import RANetConfig


def resize(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class ConvBNReLU(nn.Sequential):
    def __init__(self, n_in: int, n_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(n_in, n_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(n_out),
            nn.ReLU(inplace=True),
        )


class BottleneckConv(nn.Sequential):
    """1x1 bottleneck (width min(n_in, bn_factor*n_out)) then a 3x3 conv, both BN+ReLU."""

    def __init__(self, n_in: int, n_out: int, bn_factor: int, stride: int = 1):
        inner = min(n_in, bn_factor * n_out)
        super().__init__(ConvBNReLU(n_in, inner, 1), ConvBNReLU(inner, n_out, 3, stride))


class DenseLayer(nn.Module):
    """Plain dense layer: concat(x, conv(x)) with `growth` new channels."""

    def __init__(self, n_in: int, growth: int, bn_factor: int):
        super().__init__()
        self.conv = BottleneckConv(n_in, growth, bn_factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(x)], dim=1)


class FusionLayer(nn.Module):
    """Dense layer that also reads the coarser flow:
    concat(resize(x), resize(conv_up(coarse)), conv_own(x)), growth channels added."""

    def __init__(
        self, n_in: int, n_in_coarse: int, growth: int, bn_own: int, bn_coarse: int, compress_factor: float, down: bool
    ):
        super().__init__()
        n_up = math.floor(growth * compress_factor)
        self.conv_up = BottleneckConv(n_in_coarse, n_up, bn_coarse)
        self.conv_own = BottleneckConv(n_in, growth - n_up, bn_own, stride=2 if down else 1)

    def forward(self, coarse: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        own = self.conv_own(x)
        size = (own.shape[2], own.shape[3])
        return torch.cat([resize(x, size), resize(self.conv_up(coarse), size), own], dim=1)


class DenseBlock(nn.Module):
    """Plain block. Returns (output after the optional transition, [input, layer outputs...])."""

    kind = "dense"

    def __init__(self, n_layers: int, n_in: int, growth: int, bn_factor: int, trans: bool, reduction: float):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(n_in + j * growth, growth, bn_factor) for j in range(n_layers))
        n_out = n_in + n_layers * growth
        self.list_channels = [n_in + j * growth for j in range(n_layers + 1)]
        self.strided_last = False
        self.trans = ConvBNReLU(n_out, math.floor(reduction * n_out), 1) if trans else None
        self.n_out = math.floor(reduction * n_out) if trans else n_out

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        feats = [x]
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        if self.trans is not None:
            x = self.trans(x)
        return x, feats


class FusionBlock(nn.Module):
    """Fusion block: layer j reads entry j of the coarser block's feature list; at the end a
    1x1 conv of the coarser block's last output adds floor(compress*C) channels."""

    kind = "fusion"

    def __init__(
        self,
        n_layers: int,
        n_in: int,
        coarse_channels: List[int],
        growth: int,
        bn_own: int,
        bn_coarse: int,
        compress_factor: float,
        trans: bool,
        reduction: float,
        down: bool,
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            FusionLayer(
                n_in + j * growth,
                coarse_channels[j],
                growth,
                bn_own,
                bn_coarse,
                compress_factor,
                down=down and j == n_layers - 1,
            )
            for j in range(n_layers)
        )
        n_out = n_in + n_layers * growth
        self.list_channels = [n_in + j * growth for j in range(n_layers + 1)]
        self.strided_last = down
        n_last = math.floor(n_out * compress_factor)
        self.conv_last = ConvBNReLU(coarse_channels[n_layers], n_last, 1)
        n_out += n_last
        self.trans = ConvBNReLU(n_out, math.floor(reduction * n_out), 1) if trans else None
        self.n_out = math.floor(reduction * n_out) if trans else n_out

    def forward(self, x: torch.Tensor, coarse: List[torch.Tensor]) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        feats = [x]
        for j, layer in enumerate(self.layers):
            x = layer(coarse[j], x)
            feats.append(x)
        size = (x.shape[2], x.shape[3])
        x = torch.cat([x, resize(self.conv_last(coarse[len(self.layers)]), size)], dim=1)
        if self.trans is not None:
            x = self.trans(x)
        return x, feats


class ExitHead(nn.Module):
    """conv3x3 s2, conv3x3 s2, global AvgPool, Linear: the reference CIFAR head, whose
    AvgPool(2) is global for the 7x7 and 8x8 feature maps the flows end at."""

    def __init__(self, n_in: int, width: int, num_classes: int, resolution: int):
        super().__init__()
        pooled = ((resolution + 1) // 2 + 1) // 2
        self.features = nn.Sequential(
            ConvBNReLU(n_in, width, 3, stride=2),
            ConvBNReLU(width, width, 3, stride=2),
            nn.AvgPool2d(pooled),
        )
        self.linear = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(self.features(x), 1))


class Stems(nn.Module):
    """Multi-resolution first layer: built finest first, returned lowest resolution first."""

    def __init__(self, cfg: RANetConfig):
        super().__init__()
        scales = list(reversed(cfg.scale_list))
        grs = list(reversed(cfg.gr_factor))
        self.convs = nn.ModuleList()
        n_in = cfg.in_channels
        for i, (scale, gr) in enumerate(zip(scales, grs)):
            stride = 1 if i == 0 or scale == scales[i - 1] else 2
            self.convs.append(ConvBNReLU(n_in, cfg.n_channels * gr, 3, stride))
            n_in = cfg.n_channels * gr

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        out = []
        for conv in self.convs:
            x = conv(x)
            out.append(x)
        return out[::-1]


def transition_after(block: int, n_blocks: int, scale: int) -> bool:
    """1-based `block` of a flow with `n_blocks` blocks at `scale` ends with a transition."""
    return any(block == math.floor(k * n_blocks / scale) for k in range(1, scale))


def downsampling_blocks(blocks_per_flow: List[int], flow: int, scale: int) -> List[int]:
    """1-based fusion blocks of `flow` that halve the resolution: the last scale-1 block counts
    of the earlier flows (none for scale 1)."""
    if scale <= 1:
        return []
    return blocks_per_flow[:flow][-(scale - 1) :]

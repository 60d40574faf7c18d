"""A multi-exit CNN of three exits on the multiexit staging interface: the whole contract.

    cd models
    python3 -m multiexit train --model examples/three_exit_cnn.py:build --epochs 1 --out /tmp/tiny
    python3 -m multiexit export --model examples/three_exit_cnn.py:build \\
        --checkpoint /tmp/tiny/best.pt --out repository/three-exit-cnn/1 --name three-exit-cnn
"""
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from multiexit.interface import MultiExitModel, Stage


@dataclass(frozen=True)
class ThreeExitConfig:
    in_channels: int = 1
    in_size: int = 28
    num_classes: int = 10
    width: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


def conv_block(n_in: int, n_out: int) -> nn.Sequential:
    """3x3 conv, BN, ReLU, then 2x2 max pooling (28 -> 14 -> 7 -> 3 pixels)."""
    return nn.Sequential(
        nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(), nn.MaxPool2d(2)
    )


class Head(nn.Module):
    """An exit: global average pooling and a linear classifier."""

    def __init__(self, n_in: int, side: int, classes: int):
        super().__init__()
        self.pool, self.fc = nn.AvgPool2d(side), nn.Linear(n_in, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))


class ThreeExitCNN(MultiExitModel):
    arch = "three-exit-cnn"

    def __init__(self, config: ThreeExitConfig = ThreeExitConfig()):
        super().__init__()
        self.config = c = config
        w = c.width
        self.blocks = nn.ModuleList([conv_block(c.in_channels, w), conv_block(w, 2 * w), conv_block(2 * w, 4 * w)])
        self.heads = nn.ModuleList(
            [Head(w, 14, c.num_classes), Head(2 * w, 7, c.num_classes), Head(4 * w, 3, c.num_classes)]
        )

    def forward(self, image: torch.Tensor) -> list:  # every exit's logits, in order
        logits, x = [], image
        for block, head in zip(self.blocks, self.heads):
            x = block(x)
            logits.append(head(x))
        return logits

    def exit_heads(self) -> list:  # marks the exits: the FLOPs counter reads its total after each
        return list(self.heads)

    def stages(self) -> list:  # one per exit; tensors are passed by name
        return [
            Stage(self, self.stage1, ["image"], ["logits", "h1"]),
            Stage(self, self.stage2, ["h1"], ["logits", "h2"]),
            Stage(self, self.stage3, ["h2"], ["logits"]),
        ]

    def stage1(self, image):
        h1 = self.blocks[0](image)
        return self.heads[0](h1), h1

    def stage2(self, h1):
        h2 = self.blocks[1](h1)
        return self.heads[1](h2), h2

    def stage3(self, h2):
        return self.heads[2](self.blocks[2](h2))


def build() -> ThreeExitCNN:
    return ThreeExitCNN()

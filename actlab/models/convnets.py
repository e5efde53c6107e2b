"""Convolutional models: the CNN of "SELU vs ReLU on CIFAR-10" (``seed-cnn``), a small residual
CNN (``resnet``) and a 1-D CNN for signals (``cnn1d``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from actlab._errors import ActlabError
from actlab.models.plan import Plan, SlotModel


class SeedCNN(SlotModel):
    """The CNN of the article "SELU vs ReLU on CIFAR-10", exactly:
    Conv2D(32, 3x3) -> act -> MaxPool(2) -> Conv2D(64, 3x3) -> act -> MaxPool(2) -> Flatten ->
    Dense(10). 42,442 trainable parameters on 32x32x3 input. (Keras applied softmax in the last
    Dense; here the output slot is identity and the loss takes the logits.)"""

    slots = ("input", "hidden_1", "output")

    def __init__(self, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu"):
        super().__init__()
        c, h, w = input_shape
        self.conv1 = nn.Conv2d(c, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.pool = nn.MaxPool2d(2)
        oh, ow = ((h - 2) // 2 - 2) // 2, ((w - 2) // 2 - 2) // 2
        if oh < 1 or ow < 1:
            raise ActlabError(f"seed-cnn needs images of at least 10x10, got {h}x{w}")
        self.fc = nn.Linear(64 * oh * ow, n_classes)
        self._init_acts(activations, {"input": self.conv1, "hidden_1": self.conv2, "output": self.fc})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.acts["input"](self.conv1(x)))
        x = self.pool(self.acts["hidden_1"](self.conv2(x)))
        return self.acts["output"](self.fc(x.flatten(1)))


class _Block(nn.Module):
    """A basic residual block; its two activations are the model's slot modules, given at each
    call (held only in the model's ``acts``, so that each is registered once)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (
            nn.Sequential()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor, act_mid: nn.Module, act_out: nn.Module) -> torch.Tensor:
        y = act_mid(self.bn1(self.conv1(x)))
        return act_out(self.bn2(self.conv2(y)) + self.short(x))


class ResNet(SlotModel):
    """A small residual CNN (stem + one basic block per stage, widths 16-32-64), where spatial
    activations such as FReLU make sense. Slots: ``input`` (stem), ``hidden_{2i-1}`` inside and
    ``hidden_{2i}`` after block i, ``output``."""

    def __init__(
        self,
        input_shape: Sequence[int],
        n_classes: int,
        activations: Plan = "relu",
        widths: Sequence[int] = (16, 32, 64),
    ):
        super().__init__()
        c = input_shape[0]
        self.slots = ("input", *(f"hidden_{i}" for i in range(1, 2 * len(widths) + 1)), "output")
        self.stem = nn.Sequential(nn.Conv2d(c, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]))
        blocks: list[_Block] = []
        cin = widths[0]
        for i, w in enumerate(widths):
            blocks.append(_Block(cin, w, 1 if i == 0 else 2))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(cin, n_classes)
        layers = {"input": self.stem[0], "output": self.fc}
        for i, b in enumerate(blocks):
            layers[f"hidden_{2 * i + 1}"] = b.conv1
            layers[f"hidden_{2 * i + 2}"] = b.conv2
        self._init_acts(activations, layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.acts["input"](self.stem(x))
        for i, b in enumerate(self.blocks):
            x = b(x, self.acts[f"hidden_{2 * i + 1}"], self.acts[f"hidden_{2 * i + 2}"])
        return self.acts["output"](self.fc(x.mean((2, 3))))


class CNN1D(SlotModel):
    """A 1-D CNN for MNIST-1D-like signals (N, C, L): three Conv1d(32) layers (the last two
    with stride 2), then a linear classifier. Slots: input, hidden_1, hidden_2, output."""

    slots = ("input", "hidden_1", "hidden_2", "output")

    def __init__(self, input_shape: Sequence[int], n_classes: int, activations: Plan = "relu", channels: int = 32):
        super().__init__()
        c, length = input_shape
        self.conv1 = nn.Conv1d(c, channels, 5, padding=2)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out_len = (length + 1) // 2
        out_len = (out_len + 1) // 2
        self.fc = nn.Linear(channels * out_len, n_classes)
        self._init_acts(
            activations, {"input": self.conv1, "hidden_1": self.conv2, "hidden_2": self.conv3, "output": self.fc}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.acts["input"](self.conv1(x))
        x = self.acts["hidden_1"](self.conv2(x))
        x = self.acts["hidden_2"](self.conv3(x))
        return self.acts["output"](self.fc(x.flatten(1)))

"""A small CNN of your own: actlab finds its activation modules and swaps them."""

from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, n_classes: int = 10, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * width * 4 * 4, 64), nn.ReLU(), nn.Linear(64, n_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build(n_classes: int = 10, width: int = 16) -> nn.Module:
    return SmallCNN(n_classes, width)

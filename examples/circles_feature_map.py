"""The lectures' story on the circles data set, in three models.

1. A linear model (softmax regression) on x = (x1, x2) fails: no straight line separates a ring from
   the disc inside it, so it does little better than chance.
2. The hand-made feature map phi(x) = (x1^2, x2^2) makes the classes linearly separable: the circle
   x1^2 + x2^2 = r^2 is a straight line in (x1^2, x2^2), and the same linear model now succeeds.
3. An MLP learns such features itself from the raw (x1, x2).

Run: python examples/circles_feature_map.py [OUTPUT_DIR]   (writes three decision-boundary PNGs)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset, make_circles
from deepgrad.models import MLP
from deepgrad.train import evaluate, fit


class FeatureMap(nn.Module):
    """phi(x) = (x1^2, x2^2), followed by a linear model."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x: dg.Tensor) -> dg.Tensor:
        return self.linear(x * x)


def train_and_score(model: nn.Module, x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray) -> float:
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
    fit(
        model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9), loader, epochs=40, quiet=True
    )
    return evaluate(model, DataLoader(TensorDataset(xt, yt), batch_size=500)).accuracy


def main(out_dir: str | Path = "runs/examples") -> dict[str, float]:
    dg.manual_seed(0)
    x, y = make_circles(600, noise=0.05, seed=0)
    xt, yt = make_circles(400, noise=0.05, seed=1)
    models = {"linear": MLP(2, [], 2), "feature map": FeatureMap(), "mlp": MLP(2, [16, 16], 2)}
    scores = {name: train_and_score(model, x, y, xt, yt) for name, model in models.items()}
    for name, score in scores.items():
        print(f"{name:>12}: test accuracy {100 * score:.1f}%")
    try:
        from deepgrad.train.plots import plot_decision_boundary
    except ImportError:
        return scores
    out = Path(out_dir)
    for name, model in models.items():
        path = plot_decision_boundary(
            model, xt, yt, out / f"circles_{name.replace(' ', '_')}.png", f"{name} on circles"
        )
        print(f"wrote {path}")
    return scores


if __name__ == "__main__":
    main(*sys.argv[1:])

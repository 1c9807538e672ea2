"""One hidden layer approximates a curve, and does better as the layer widens (universal approximation).

An MLP 1-H-1 with tanh units fits y = sin(x) + noise on [-2 pi, 2 pi] for H = 1, 2, 4, 16, 64; the test error
falls as H grows.

Run: python examples/sine_universal_approximation.py [OUTPUT_DIR]   (writes one PNG with all fits)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset, make_sine
from deepgrad.models import MLP
from deepgrad.train import evaluate, fit

WIDTHS = (1, 2, 4, 16, 64)
X_RANGE = (-2 * np.pi, 2 * np.pi)  # two periods: a few tanh units are not enough


def main(out_dir: str | Path = "runs/examples") -> dict[int, float]:
    dg.manual_seed(0)
    x, y = make_sine(600, noise=0.05, seed=0, x_range=X_RANGE)
    xt, yt = make_sine(300, noise=0.0, seed=1, x_range=X_RANGE)
    errors, models = {}, {}
    for width in WIDTHS:
        model = MLP(1, [width], 1, activation="tanh")
        loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
        fit(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01), loader, epochs=200, quiet=True)
        errors[width] = evaluate(model, DataLoader(TensorDataset(xt, yt), batch_size=200), nn.MSELoss()).loss
        models[width] = model
        print(f"hidden width {width:>3}: test MSE {errors[width]:.5f}")
    try:
        from deepgrad.train.plots import _pyplot
    except ImportError:
        return errors
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(x[:, 0], y[:, 0], s=5, alpha=0.3, color="gray", label="training data")
    grid = np.linspace(x.min(), x.max(), 400, dtype=np.float32).reshape(-1, 1)
    with dg.no_grad():
        for width, model in models.items():
            ax.plot(
                grid[:, 0], model(dg.tensor(grid)).array[:, 0], label=f"{width} hidden units (MSE {errors[width]:.4f})"
            )
    ax.legend(fontsize=8)
    ax.set_title("one hidden layer, wider and wider")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "sine_widths.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {out / 'sine_widths.png'}")
    return errors


if __name__ == "__main__":
    main(*sys.argv[1:])

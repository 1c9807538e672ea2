"""The examples run in seconds and tell the lectures' story."""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_circles_linear_fails_feature_map_and_mlp_succeed(tmp_path):
    scores = load("circles_feature_map").main(tmp_path)
    assert scores["linear"] < 0.7
    assert scores["feature map"] > 0.97
    assert scores["mlp"] > 0.97
    assert len(list(tmp_path.glob("circles_*.png"))) == 3


def test_sine_gets_better_as_the_hidden_layer_widens(tmp_path):
    errors = load("sine_universal_approximation").main(tmp_path)
    assert errors[1] > errors[2] > errors[4] > errors[64]
    assert errors[1] > 0.2 and errors[64] < 0.01
    assert (tmp_path / "sine_widths.png").exists()

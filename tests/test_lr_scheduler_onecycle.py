"""OneCycleLR against torch.optim.lr_scheduler.OneCycleLR step by step (lr and momentum / beta1), resuming
mid-cycle from state dicts, and bad arguments."""

from __future__ import annotations

import json

import pytest

import deepgrad
from deepgrad import optim
from deepgrad.optim.lr_scheduler import OneCycleLR

LRS = (0.1, 0.05)

CONFIGS = [
    {"max_lr": 0.5, "total_steps": 40},
    {"max_lr": [0.5, 0.2], "epochs": 3, "steps_per_epoch": 13},
    {"max_lr": 1.0, "total_steps": 37, "anneal_strategy": "linear", "pct_start": 0.25},
    {"max_lr": 0.3, "total_steps": 50, "three_phase": True},
    {"max_lr": 0.3, "total_steps": 50, "three_phase": True, "anneal_strategy": "linear", "pct_start": 0.4},
    {"max_lr": 0.1, "total_steps": 20, "div_factor": 10.0, "final_div_factor": 100.0},
    {"max_lr": 0.1, "total_steps": 20, "base_momentum": [0.8, 0.7], "max_momentum": 0.9},
    {"max_lr": 0.2, "total_steps": 15, "cycle_momentum": False},
    {"max_lr": 0.2, "total_steps": 1},
]
IDS = [json.dumps(kwargs) for kwargs in CONFIGS]


def _torch():
    return pytest.importorskip("torch")


def _optimizers(torch, kind):
    groups = [{"params": [deepgrad.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    torch_groups = [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    if kind == "sgd":
        return optim.SGD(groups, lr=1.0, momentum=0.9), torch.optim.SGD(torch_groups, lr=1.0, momentum=0.9)
    return optim.Adam(groups, lr=1.0), torch.optim.Adam(torch_groups, lr=1.0)


def _momenta(optimizer):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in optimizer.param_groups]


def _assert_same(ours, theirs, step):
    assert [g["lr"] for g in ours.param_groups] == pytest.approx(
        [g["lr"] for g in theirs.param_groups], rel=1e-12, abs=1e-15
    ), f"lr at step {step}"
    assert _momenta(ours) == pytest.approx(_momenta(theirs), rel=1e-12), f"momentum at step {step}"


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=IDS)
def test_lr_and_momentum_match_torch_at_every_step(kind, kwargs):
    torch = _torch()
    ours, theirs = _optimizers(torch, kind)
    scheduler = OneCycleLR(ours, **kwargs)
    reference = torch.optim.lr_scheduler.OneCycleLR(theirs, **kwargs)
    _assert_same(ours, theirs, 0)
    for step in range(1, scheduler.total_steps + 1):  # PyTorch allows total_steps steps after construction
        ours.step()
        theirs.step()
        scheduler.step()
        reference.step()
        _assert_same(ours, theirs, step)
        assert scheduler.get_last_lr() == pytest.approx(reference.get_last_lr(), rel=1e-12, abs=1e-15)
    with pytest.raises(ValueError, match=f"Tried to step {scheduler.total_steps + 1} times"):
        scheduler.step()
    with pytest.raises(ValueError, match=f"Tried to step {scheduler.total_steps + 1} times"):
        reference.step()


def test_the_cycle_goes_up_to_max_lr_and_down_to_its_minimum():
    opt = optim.Adam([deepgrad.zeros(1, requires_grad=True)], lr=0.001)
    scheduler = OneCycleLR(opt, max_lr=0.01, total_steps=100, pct_start=0.2)
    lrs, betas = [scheduler.get_last_lr()[0]], [opt.param_groups[0]["betas"][0]]
    for _ in range(99):  # steps 1 to 99, the last of the cycle
        opt.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        betas.append(opt.param_groups[0]["betas"][0])
    assert lrs[0] == pytest.approx(0.01 / 25)
    assert max(lrs) == pytest.approx(0.01) and lrs.index(max(lrs)) == 19  # pct_start * 100 - 1
    assert lrs[-1] == pytest.approx(0.01 / 25 / 1e4)
    assert betas[0] == pytest.approx(0.95) and min(betas) == pytest.approx(0.85) and betas[-1] == pytest.approx(0.95)
    assert opt.param_groups[0]["betas"][1] == 0.999  # beta2 is left alone


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_resuming_mid_cycle_through_json_equals_an_uninterrupted_run(kind):
    torch = _torch()
    kwargs = {"max_lr": [0.4, 0.2], "total_steps": 30, "three_phase": True}
    ours, _ = _optimizers(torch, kind)
    scheduler = OneCycleLR(ours, **kwargs)
    for _ in range(11):
        ours.step()
        scheduler.step()
    saved = json.loads(json.dumps({"optimizer": _plain(ours.state_dict()), "scheduler": scheduler.state_dict()}))
    expected = []
    for _ in range(19):
        ours.step()
        scheduler.step()
        expected.append((scheduler.get_last_lr(), _momenta(ours)))

    resumed_opt, _ = _optimizers(torch, kind)
    resumed = OneCycleLR(resumed_opt, max_lr=0.9, total_steps=5)  # other settings: the state dict wins
    resumed_opt.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    got = []
    for _ in range(19):
        resumed_opt.step()
        resumed.step()
        got.append((resumed.get_last_lr(), _momenta(resumed_opt)))
    assert got == expected
    with pytest.raises(ValueError, match="Tried to step 31 times. The specified number of total steps is 30"):
        resumed.step()


def test_resuming_with_last_epoch_matches_torch():
    torch = _torch()
    ours, theirs = _optimizers(torch, "sgd")
    first, reference = OneCycleLR(ours, 0.5, total_steps=25), torch.optim.lr_scheduler.OneCycleLR(theirs, 0.5, 25)
    for _ in range(9):
        ours.step()
        first.step()
        theirs.step()
        reference.step()
    state = ours.state_dict()
    ours, theirs_again = _optimizers(torch, "sgd")
    ours.load_state_dict(state)
    scheduler = OneCycleLR(ours, 0.5, total_steps=25, last_epoch=8)  # constructing performs step 9
    resumed_reference = torch.optim.lr_scheduler.OneCycleLR(theirs, 0.5, total_steps=25, last_epoch=8)
    _assert_same(ours, theirs, 9)
    for step in range(10, 26):
        ours.step()
        theirs.step()
        scheduler.step()
        resumed_reference.step()
        _assert_same(ours, theirs, step)


def test_resuming_needs_the_groups_schedule_keys():
    opt = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(KeyError, match="max_lr"):
        OneCycleLR(opt, 0.5, total_steps=10, last_epoch=3)


def test_a_single_point_phase_takes_its_end_value_where_torch_divides_by_zero():
    opt = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.1)  # warm-up ends at step 0
    assert scheduler.get_last_lr() == [1.0]
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.85)


def _sgd():
    return optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_lr": 0.1}, ValueError, "either total_steps or both epochs and steps_per_epoch"),
        ({"max_lr": 0.1, "epochs": 3}, ValueError, "either total_steps or both epochs and steps_per_epoch"),
        ({"max_lr": 0.1, "total_steps": 0}, ValueError, "total_steps must be a positive integer, got 0"),
        ({"max_lr": 0.1, "total_steps": 2.5}, ValueError, "total_steps must be a positive integer, got 2.5"),
        ({"max_lr": 0.1, "epochs": -1, "steps_per_epoch": 3}, ValueError, "epochs must be a positive integer"),
        ({"max_lr": 0.1, "epochs": 2, "steps_per_epoch": True}, ValueError, "steps_per_epoch must be a positive"),
        ({"max_lr": 0.1, "total_steps": 10, "pct_start": 1.5}, ValueError, r"pct_start must be a number in \[0, 1\]"),
        ({"max_lr": 0.1, "total_steps": 10, "anneal_strategy": "cosine"}, ValueError, "'cos' or 'linear'"),
        ({"max_lr": 0.1, "total_steps": 10, "div_factor": 0}, ValueError, "div_factor must be a number > 0"),
        ({"max_lr": 0.1, "total_steps": 10, "final_div_factor": -1}, ValueError, "final_div_factor must be"),
        ({"max_lr": -0.1, "total_steps": 10}, ValueError, "max_lr must be a finite number > 0"),
        ({"max_lr": [0.1, 0.2], "total_steps": 10}, ValueError, "expected 1 values of max_lr .one per param group"),
        ({"max_lr": "0.1", "total_steps": 10}, ValueError, "max_lr must be a finite number > 0"),
        ({"max_lr": 0.1, "total_steps": 10, "max_momentum": 1.0}, ValueError, r"max_momentum must be a number in"),
        ({"max_lr": 0.1, "total_steps": 10, "last_epoch": -2}, ValueError, "last_epoch must be an integer >= -1"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        OneCycleLR(_sgd(), **kwargs)


def test_bad_optimizers_raise_clear_errors():
    with pytest.raises(TypeError, match="expected a deepgrad.optim.Optimizer, got list"):
        OneCycleLR([], 0.1, total_steps=10)
    adagrad = optim.Adagrad([deepgrad.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="Adagrad has neither; pass cycle_momentum=False"):
        OneCycleLR(adagrad, 0.1, total_steps=10)
    scheduler = OneCycleLR(adagrad, 0.1, total_steps=10, cycle_momentum=False)
    assert scheduler.get_last_lr() == [pytest.approx(0.004)]


def _plain(state):
    """An optimizer state dict as JSON takes it (tensors as lists), as checkpoints store it."""
    return {
        "state": {
            k: {n: (v.array.tolist() if hasattr(v, "array") else v) for n, v in s.items()}
            for k, s in state["state"].items()
        },
        "param_groups": state["param_groups"],
    }

"""Learning-rate schedulers against torch.optim.lr_scheduler, epoch by epoch, plus state dicts and bad input."""

from __future__ import annotations

import json
import math

import pytest

import deepgrad
from deepgrad import optim
from deepgrad.optim import lr_scheduler

EPOCHS = 30
LRS = (0.1, 0.05)


def _torch():
    return pytest.importorskip("torch")


def _factor(epoch):
    return 0.95**epoch


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 5)


class Halving:
    """A callable object: its attributes go into LambdaLR's state dict."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("StepLR", {"step_size": 1, "gamma": 0.9}),
    ("MultiStepLR", {"milestones": [5, 10, 10, 20], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("LambdaLR", {"lr_lambda": _factor}),
    ("LambdaLR", {"lr_lambda": [_warmup, _factor]}),
]
IDS = [f"{name}-{kwargs}" for name, kwargs in SCHEDULERS]


def _optimizers(torch):
    ours = optim.SGD([{"params": [deepgrad.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS], lr=1.0)
    theirs = torch.optim.SGD([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS], lr=1.0)
    return ours, theirs


def _assert_same_lrs(ours, theirs, scheduler, reference, epoch):
    expected = reference.get_last_lr()
    assert scheduler.get_last_lr() == pytest.approx(expected, rel=1e-12, abs=1e-15), f"epoch {epoch}"
    assert [g["lr"] for g in ours.param_groups] == pytest.approx([g["lr"] for g in theirs.param_groups], rel=1e-12)


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_matches_torch_for_30_epochs(name, kwargs):
    torch = _torch()
    ours, theirs = _optimizers(torch)
    scheduler = getattr(lr_scheduler, name)(ours, **kwargs)
    reference = getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs)
    _assert_same_lrs(ours, theirs, scheduler, reference, 0)
    for epoch in range(1, EPOCHS + 1):
        ours.step()
        theirs.step()
        scheduler.step()
        reference.step()
        assert scheduler.last_epoch == reference.last_epoch == epoch
        _assert_same_lrs(ours, theirs, scheduler, reference, epoch)


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_resuming_with_last_epoch_matches_torch(name, kwargs):
    torch = _torch()
    ours, theirs = _optimizers(torch)
    for group in ours.param_groups + theirs.param_groups:
        group["initial_lr"] = group["lr"] * 2  # as restored from a checkpoint
    scheduler = getattr(lr_scheduler, name)(ours, last_epoch=4, **kwargs)
    reference = getattr(torch.optim.lr_scheduler, name)(theirs, last_epoch=4, **kwargs)
    _assert_same_lrs(ours, theirs, scheduler, reference, 5)
    for epoch in range(6, EPOCHS):
        ours.step()
        theirs.step()
        scheduler.step()
        reference.step()
        _assert_same_lrs(ours, theirs, scheduler, reference, epoch)


def test_two_chained_schedulers_match_torch():
    torch = _torch()
    ours, theirs = _optimizers(torch)
    mine = [lr_scheduler.ExponentialLR(ours, 0.9), lr_scheduler.StepLR(ours, 4, 0.5)]
    ref = [torch.optim.lr_scheduler.ExponentialLR(theirs, 0.9), torch.optim.lr_scheduler.StepLR(theirs, 4, 0.5)]
    for epoch in range(EPOCHS):
        ours.step()
        theirs.step()
        for s in mine + ref:
            s.step()
        _assert_same_lrs(ours, theirs, mine[1], ref[1], epoch)


LOSSES = [1.0, 0.9, 0.95, 0.95, 0.94, 0.96, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.71, 0.7, 0.69999, 0.72]
LOSSES += [0.6, 0.61, 0.62, 0.63, 0.64, 0.5, 0.5, 0.5, 0.4, 0.45, 0.45, 0.45, 0.45, 0.45]

PLATEAU = [
    {"patience": 2},
    {"patience": 1, "factor": 0.5},
    {"patience": 0, "cooldown": 2, "factor": 0.5},
    {"patience": 1, "threshold": 0.05},
    {"patience": 1, "threshold": 0.02, "threshold_mode": "abs"},
    {"mode": "max", "patience": 1, "factor": 0.5},
    {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.01, "cooldown": 1},
    {"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.01]},
    {"patience": 0, "factor": 0.5, "min_lr": 0.03},
    {"patience": 0, "factor": 0.9, "eps": 6e-3},  # 0.1 -> 0.09 happens, 0.05 -> 0.045 is skipped
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    torch = _torch()
    assert len(LOSSES) == EPOCHS
    ours, theirs = _optimizers(torch)
    scheduler = lr_scheduler.ReduceLROnPlateau(ours, **kwargs)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    changes = 0
    for epoch, loss in enumerate(LOSSES):
        before = scheduler.get_last_lr()
        scheduler.step(loss)
        reference.step(loss)
        changes += scheduler.get_last_lr() != before
        _assert_same_lrs(ours, theirs, scheduler, reference, epoch)
        assert (scheduler.best, scheduler.num_bad_epochs, scheduler.cooldown_counter) == (
            reference.best,
            reference.num_bad_epochs,
            reference.cooldown_counter,
        )
    assert changes > 0  # the sequence exercises at least one reduction


def test_reduce_lr_on_plateau_accepts_a_tensor_metric():
    opt = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    scheduler.step(deepgrad.tensor(1.0))
    scheduler.step(deepgrad.tensor([2.0]))
    assert scheduler.get_last_lr() == [pytest.approx(0.1)]
    with pytest.raises(TypeError, match="one-element tensor"):
        scheduler.step(deepgrad.ones(2))


# ---------------------------------------------------------------------- state dicts


def _sgd():
    return optim.SGD([{"params": [deepgrad.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS], lr=1.0)


ROUND_TRIP = [
    *SCHEDULERS[:6],
    ("LambdaLR", {"lr_lambda": Halving(3)}),
    ("ReduceLROnPlateau", {"patience": 1, "factor": 0.5, "cooldown": 1}),
]


def _advance(scheduler, optimizer, epochs):
    lrs = []
    for epoch in epochs:
        optimizer.step()
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(LOSSES[epoch])
        else:
            scheduler.step()
        lrs.append(scheduler.get_last_lr())
    return lrs


@pytest.mark.parametrize("name,kwargs", ROUND_TRIP, ids=[f"{n}-{k}" for n, k in ROUND_TRIP])
def test_state_dict_round_trip_through_json_equals_an_uninterrupted_run(name, kwargs):
    cls = getattr(lr_scheduler, name)
    optimizer = _sgd()
    scheduler = cls(optimizer, **kwargs)
    straight = _advance(scheduler, optimizer, range(EPOCHS))

    optimizer = _sgd()
    scheduler = cls(optimizer, **kwargs)
    first = _advance(scheduler, optimizer, range(10))
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))  # plain Python values only
    saved_optimizer = optimizer.state_dict()

    resumed_optimizer = _sgd()
    if name == "LambdaLR":
        kwargs = {"lr_lambda": Halving(99)}  # the saved attributes restore every=3
    resumed = cls(resumed_optimizer, **kwargs)  # create the scheduler, then load both states
    resumed_optimizer.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    assert resumed.get_last_lr() == first[-1]
    rest = _advance(resumed, resumed_optimizer, range(10, EPOCHS))
    assert first + rest == straight


def test_lambda_lr_state_dict_skips_plain_functions():
    opt = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=1.0)
    state = lr_scheduler.LambdaLR(opt, lambda e: 1.0).state_dict()
    assert state["lr_lambdas"] == [None] and "optimizer" not in state


def test_multistep_milestones_are_saved_as_a_sorted_list():
    opt = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=1.0)
    state = lr_scheduler.MultiStepLR(opt, [9, 3, 3]).state_dict()
    assert state["milestones"] == [3, 3, 9]


def test_initial_lr_is_recorded_and_required_for_resuming():
    opt = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=0.3)
    lr_scheduler.StepLR(opt, 2)
    assert opt.param_groups[0]["initial_lr"] == 0.3
    fresh = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=0.3)
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        lr_scheduler.StepLR(fresh, 2, last_epoch=3)


# ---------------------------------------------------------------------- bad input


def test_bad_arguments_raise_clear_errors():
    opt = _sgd()
    with pytest.raises(TypeError, match="expected a deepgrad.optim.Optimizer, got list"):
        lr_scheduler.StepLR([], 2)
    with pytest.raises(TypeError, match="Optimizer"):
        lr_scheduler.ReduceLROnPlateau(object())
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match="gamma must be a number > 0, got -0.5"):
        lr_scheduler.ExponentialLR(opt, -0.5)
    with pytest.raises(TypeError, match="milestones must be integers"):
        lr_scheduler.MultiStepLR(opt, [2.5])
    with pytest.raises(ValueError, match="T_max must be a positive number"):
        lr_scheduler.CosineAnnealingLR(opt, 0)
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [_factor])
    with pytest.raises(TypeError, match="not a function"):
        lr_scheduler.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="last_epoch must be an integer >= -1"):
        lr_scheduler.StepLR(opt, 2, last_epoch=-2)
    with pytest.raises(ValueError, match=r"factor must be in \[0, 1\), got 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ValueError, match="threshold_mode must be 'rel' or 'abs'"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="relative")
    with pytest.raises(ValueError, match="expected 2 min_lrs"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1])
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        lr_scheduler.ReduceLROnPlateau(opt, patience=-1)


def test_adding_a_group_after_the_scheduler_is_reported():
    opt = _sgd()
    scheduler = lr_scheduler.LambdaLR(opt, _factor)
    opt.add_param_group({"params": [deepgrad.zeros(1, requires_grad=True)]})
    with pytest.raises(RuntimeError, match="the optimizer has 3 param groups but the schedule was made for 2"):
        scheduler.step()


def test_cosine_reaches_eta_min_at_t_max():
    opt = optim.SGD([deepgrad.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.1)
    for epoch in range(1, 9):
        opt.step()
        scheduler.step()
        closed_form = 0.1 + 0.9 * (1 + math.cos(math.pi * epoch / 8)) / 2
        assert scheduler.get_last_lr()[0] == pytest.approx(closed_form, abs=1e-12)
    assert scheduler.get_last_lr()[0] == pytest.approx(0.1)

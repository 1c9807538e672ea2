"""ConstantLR, LinearLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR, SequentialLR and
ChainedScheduler: the lr (and the cycled momentum) at every step equal to PyTorch's."""

from __future__ import annotations

import pytest

import deepgrad as dg
import deepgrad.optim.lr_scheduler as S
from deepgrad import optim

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler


def trajectories(make_ours, make_theirs, steps=25, adam=False):
    p, pt = dg.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    if adam:
        ours_opt, theirs_opt = optim.Adam([p], lr=0.1), torch.optim.Adam([pt], lr=0.1)
    else:
        ours_opt, theirs_opt = optim.SGD([p], lr=0.1, momentum=0.9), torch.optim.SGD([pt], lr=0.1, momentum=0.9)
    ours, theirs = make_ours(ours_opt), make_theirs(theirs_opt)
    values = []
    for opt, sched in ((ours_opt, ours), (theirs_opt, theirs)):
        seen = []
        for _ in range(steps):
            group = opt.param_groups[0]
            momentum = group["betas"][0] if adam else group["momentum"]
            seen.append((sched.get_last_lr()[0], group["lr"], momentum))
            opt.step()
            sched.step()
        values.append([number for step in seen for number in step])
    return values


CASES = {
    "ConstantLR": (lambda o: S.ConstantLR(o, 0.5, 4), lambda t: TS.ConstantLR(t, 0.5, 4)),
    "LinearLR": (lambda o: S.LinearLR(o, 0.1, 1.0, 6), lambda t: TS.LinearLR(t, 0.1, 1.0, 6)),
    "LinearLR down": (lambda o: S.LinearLR(o, 1.0, 0.2, 8), lambda t: TS.LinearLR(t, 1.0, 0.2, 8)),
    "MultiplicativeLR": (
        lambda o: S.MultiplicativeLR(o, lambda e: 0.9),
        lambda t: TS.MultiplicativeLR(t, lambda e: 0.9),
    ),
    "PolynomialLR": (lambda o: S.PolynomialLR(o, 10, 2.0), lambda t: TS.PolynomialLR(t, 10, 2.0)),
    "WarmRestarts": (
        lambda o: S.CosineAnnealingWarmRestarts(o, 3, 2, 0.01),
        lambda t: TS.CosineAnnealingWarmRestarts(t, 3, 2, 0.01),
    ),
    "WarmRestarts T_mult 1": (
        lambda o: S.CosineAnnealingWarmRestarts(o, 4),
        lambda t: TS.CosineAnnealingWarmRestarts(t, 4),
    ),
    "CyclicLR": (lambda o: S.CyclicLR(o, 0.01, 0.1, 4, 3), lambda t: TS.CyclicLR(t, 0.01, 0.1, 4, 3)),
    "CyclicLR triangular2": (
        lambda o: S.CyclicLR(o, 0.01, 0.1, 3, mode="triangular2"),
        lambda t: TS.CyclicLR(t, 0.01, 0.1, 3, mode="triangular2"),
    ),
    "CyclicLR exp_range": (
        lambda o: S.CyclicLR(o, 0.01, 0.1, 3, mode="exp_range", gamma=0.9),
        lambda t: TS.CyclicLR(t, 0.01, 0.1, 3, mode="exp_range", gamma=0.9),
    ),
    "SequentialLR warm-up then cosine": (
        lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, 1.0, 5), S.CosineAnnealingLR(o, 10)], [5]),
        lambda t: TS.SequentialLR(t, [TS.LinearLR(t, 0.1, 1.0, 5), TS.CosineAnnealingLR(t, 10)], [5]),
    ),
    "SequentialLR three": (
        lambda o: S.SequentialLR(
            o, [S.ConstantLR(o, 0.5, 3), S.ExponentialLR(o, 0.9), S.MultiStepLR(o, [2, 5])], [4, 9]
        ),
        lambda t: TS.SequentialLR(
            t, [TS.ConstantLR(t, 0.5, 3), TS.ExponentialLR(t, 0.9), TS.MultiStepLR(t, [2, 5])], [4, 9]
        ),
    ),
    "ChainedScheduler": (
        lambda o: S.ChainedScheduler([S.ConstantLR(o, 0.5, 3), S.ExponentialLR(o, 0.9)]),
        lambda t: TS.ChainedScheduler([TS.ConstantLR(t, 0.5, 3), TS.ExponentialLR(t, 0.9)]),
    ),
}


@pytest.mark.parametrize("make_ours,make_theirs", CASES.values(), ids=CASES.keys())
def test_schedules_match_torch(make_ours, make_theirs):
    ours, theirs = trajectories(make_ours, make_theirs)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_cyclic_lr_cycles_adams_beta1_and_refuses_an_optimizer_without_momentum():
    ours, theirs = trajectories(CASES["CyclicLR"][0], CASES["CyclicLR"][1], adam=True)
    assert ours == pytest.approx(theirs, rel=1e-12)
    opt = optim.Adagrad([dg.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="no momentum .* to cycle"):
        S.CyclicLR(opt, 0.01, 0.1)
    S.CyclicLR(opt, 0.01, 0.1, cycle_momentum=False)


def test_warm_restarts_take_fractional_epochs_as_torch():
    p, pt = dg.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    ours = S.CosineAnnealingWarmRestarts(optim.SGD([p], lr=1.0), T_0=2, T_mult=2)
    theirs = TS.CosineAnnealingWarmRestarts(torch.optim.SGD([pt], lr=1.0), T_0=2, T_mult=2)
    for epoch in [0.25, 0.5, 1.75, 2.0, 3.5, 6.1, 13.0]:
        ours.step(epoch)
        theirs.step(epoch)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)


def test_sequential_lr_state_dict_round_trip_and_errors():
    def build():
        opt = optim.SGD([dg.zeros(1, requires_grad=True)], lr=0.1)
        return opt, S.SequentialLR(opt, [S.LinearLR(opt, 0.1, 1.0, 3), S.ExponentialLR(opt, 0.5)], [3])

    opt, sched = build()
    for _ in range(5):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2, sched2 = build()
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    opt.step(), sched.step(), opt2.step(), sched2.step()
    assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr())
    with pytest.raises(ValueError, match="expected 1 milestones for 2 schedulers, got 0"):
        S.SequentialLR(opt, [S.ConstantLR(opt), S.ConstantLR(opt)], [])

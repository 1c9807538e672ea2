"""Adamax, NAdam and RAdam: parameters after 12 steps equal to torch.optim's, state dicts that resume."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim

torch = pytest.importorskip("torch")

CASES = [
    ("Adamax", {}),
    ("Adamax", {"weight_decay": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"weight_decay": 0.05}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}),
    ("RAdam", {"betas": (0.9, 0.9)}),  # rho_t passes 5 at the third step: both branches run
    ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
]


def loss_of(x):
    return (x * x * x).sum() + (x * 2).sum()


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_updates_match_torch(name, kwargs):
    start = np.random.default_rng(0).standard_normal((3, 4))
    ours, theirs = dg.tensor(start.copy(), requires_grad=True), torch.tensor(start.copy(), requires_grad=True)
    opt, opt_t = (
        getattr(optim, name)([ours], lr=0.05, **kwargs),
        getattr(torch.optim, name)([theirs], lr=0.05, **kwargs),
    )
    for _ in range(12):
        for optimizer, x in ((opt, ours), (opt_t, theirs)):
            optimizer.zero_grad()
            loss_of(x).backward()
            optimizer.step()
    # (PyTorch keeps NAdam's running momentum product in float32 even for float64 parameters: 1e-9 apart)
    np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=1e-8 if name == "NAdam" else 1e-12)


@pytest.mark.parametrize("name", ["Adamax", "NAdam", "RAdam"])
def test_state_dict_resumes_the_same_trajectory(name):
    def run(steps, resume_from=None):
        x = dg.tensor([0.5, -1.0, 2.0], dtype=dg.float64, requires_grad=True)
        opt = getattr(optim, name)([x], lr=0.05)
        if resume_from is not None:
            x.array[...] = resume_from[0]
            opt.load_state_dict(resume_from[1])
        for _ in range(steps):
            opt.zero_grad()
            loss_of(x).backward()
            opt.step()
        return x.array.copy(), opt.state_dict()

    straight, _ = run(8)
    halfway = run(4)
    resumed, _ = run(4, resume_from=halfway)
    np.testing.assert_array_equal(resumed, straight)


def test_bad_hyperparameters_are_named():
    x = dg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"NAdam: .*betas\[1\]"):
        optim.NAdam([x], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="RAdam: betas=0.9 in param group 0: must be a pair"):
        optim.RAdam([x], betas=0.9)

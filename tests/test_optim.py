"""Optimizers against torch.optim (same parameters, same gradients, 20 steps), state dicts, bad input."""

from __future__ import annotations

import contextlib
import json
import tracemalloc

import numpy as np
import pytest

import deepgrad
from deepgrad import optim

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]
STEPS = 20

# (deepgrad class name, keyword arguments): each runs against torch.optim.<same name>
CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.02, "momentum": 0.7, "nesterov": True, "weight_decay": 0.01, "maximize": True}),
    ("SGD", {"lr": 0.03, "momentum": 0.5, "dampening": 0.5, "weight_decay": 0.2}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-3}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "betas": (0.8, 0.95), "weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-4, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "lr_decay": 0.01, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-3}),
    ("Adadelta", {"lr": 2.0, "weight_decay": 0.1, "maximize": True}),
]
CONFIG_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kwargs.items())}" for name, kwargs in CONFIGS]


def _torch():
    return pytest.importorskip("torch")


def _problem(seed=0, shapes=SHAPES, steps=STEPS):
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    return initial, grads


def _dg_params(arrays):
    return [deepgrad.tensor(a, dtype=deepgrad.float64, requires_grad=True) for a in arrays]


def _torch_params(torch, arrays):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


def _set_grads(params, grads, to_tensor, skip=()):
    for i, (p, g) in enumerate(zip(params, grads)):
        p.grad = None if i in skip else to_tensor(g)


def _skip_at(step):
    # parameter 1 gets no gradient on steps 3-5 (it must be left alone, with no state change)
    return {1} if 3 <= step <= 5 else set()


def _torch_kwargs(name, kwargs):
    kwargs = dict(kwargs)
    if name == "AdamW":
        kwargs.pop("decoupled_weight_decay", None)
    return {**kwargs, "foreach": False}


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=CONFIG_IDS)
def test_matches_torch_for_20_steps(name, kwargs):
    torch = _torch()
    initial, grads = _problem()
    ours, theirs = _dg_params(initial), _torch_params(torch, initial)
    opt = getattr(optim, name)(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, **_torch_kwargs(name, kwargs))
    for step in range(STEPS):
        _set_grads(ours, grads[step], lambda g: deepgrad.tensor(g, dtype=deepgrad.float64), _skip_at(step))
        _set_grads(theirs, grads[step], torch.tensor, _skip_at(step))
        opt.step()
        ref.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-6, atol=1e-6)
    # the state buffers agree too (same names as PyTorch's)
    for p, q in zip(ours, theirs):
        assert set(opt.state[p]) == set(ref.state[q])
        for key, value in ref.state[q].items():
            if key == "step":
                assert opt.state[p]["step"] == int(value)
            else:
                np.testing.assert_allclose(opt.state[p][key].array, value.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_two_param_groups_with_different_lr_match_torch(name):
    torch = _torch()
    initial, grads = _problem(seed=1)
    extra = {"SGD": {"momentum": 0.9}, "RMSprop": {"momentum": 0.3}}.get(name, {})
    group_two = {"lr": 0.001, "weight_decay": 0.1}
    ours, theirs = _dg_params(initial), _torch_params(torch, initial)
    opt = getattr(optim, name)([{"params": ours[:2]}, {"params": ours[2:], **group_two}], lr=0.05, **extra)
    ref = getattr(torch.optim, name)(
        [{"params": theirs[:2]}, {"params": theirs[2:], **group_two}], lr=0.05, foreach=False, **extra
    )
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.001]
    for step in range(STEPS):
        _set_grads(ours, grads[step], lambda g: deepgrad.tensor(g, dtype=deepgrad.float64))
        _set_grads(theirs, grads[step], torch.tensor)
        opt.step()
        ref.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_param_groups_have_defaults_filled_in():
    a, b = deepgrad.ones(2, requires_grad=True), deepgrad.ones(3, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0] == {
        "params": [a],
        "lr": 0.1,
        "momentum": 0.9,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    }
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"][0] is b


def test_add_param_group_and_the_callers_dict_is_not_modified():
    a, b = deepgrad.ones(2, requires_grad=True), deepgrad.ones(3, requires_grad=True)
    opt = optim.Adam([a], lr=0.01)
    group = {"params": [b], "lr": 0.1}
    opt.add_param_group(group)
    assert group == {"params": [b], "lr": 0.1}
    assert opt.param_groups[1]["betas"] == (0.9, 0.999) and opt.param_groups[1]["lr"] == 0.1


# ---------------------------------------------------------------------- SGD and the lectures


def test_sgd_momentum_equals_the_lectures_velocity_update():
    """v <- -lr*g + gamma*v; theta <- theta + v (v_0 = 0) gives the same parameters as PyTorch's rule."""
    rng = np.random.default_rng(3)
    target = rng.standard_normal(6)
    theta = deepgrad.tensor(rng.standard_normal(6), dtype=deepgrad.float64, requires_grad=True)
    lecture_theta, velocity = theta.array.copy(), np.zeros(6)
    lr, gamma = 0.1, 0.9
    opt = optim.SGD([theta], lr=lr, momentum=gamma)
    for _ in range(STEPS):
        opt.zero_grad()
        ((theta - deepgrad.tensor(target, dtype=deepgrad.float64)) ** 2).sum().backward()
        opt.step()
        velocity = -lr * 2 * (lecture_theta - target) + gamma * velocity
        lecture_theta = lecture_theta + velocity
        np.testing.assert_allclose(theta.array, lecture_theta, rtol=1e-12, atol=1e-12)
        # PyTorch's buffer is the lectures' velocity divided by -lr
        np.testing.assert_allclose(opt.state[theta]["momentum_buffer"].array * -lr, velocity, atol=1e-12)


def test_step_with_closure_on_a_real_loss_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(4)
    x, y, w0 = rng.standard_normal((8, 3)), rng.standard_normal(8), rng.standard_normal(3)
    w = deepgrad.tensor(w0, dtype=deepgrad.float64, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    opt = optim.SGD([w], lr=0.05, momentum=0.9, nesterov=True)
    ref = torch.optim.SGD([tw], lr=0.05, momentum=0.9, nesterov=True, foreach=False)
    xd, yd = deepgrad.tensor(x, dtype=deepgrad.float64), deepgrad.tensor(y, dtype=deepgrad.float64)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def closure():
        opt.zero_grad()
        loss = ((xd @ w - yd) ** 2).mean()
        loss.backward()
        return loss

    def torch_closure():
        ref.zero_grad()
        loss = ((xt @ tw - yt) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(STEPS):
        with deepgrad.no_grad():  # step runs the closure with gradients enabled anyway
            loss = opt.step(closure)
        torch_loss = ref.step(torch_closure)
        assert float(loss) == pytest.approx(torch_loss.item(), rel=1e-10)
    np.testing.assert_allclose(w.array, tw.detach().numpy(), rtol=1e-10)


def test_parameters_without_grad_are_skipped_and_get_no_state():
    a, b = deepgrad.ones(2, requires_grad=True), deepgrad.ones(2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = deepgrad.ones(2)
    opt.step()
    assert np.allclose(a.array, 0.9) and np.array_equal(b.array, np.ones(2, np.float32))
    assert b not in opt.state.keys() or not opt.state[b]
    assert 0 in opt.state_dict()["state"] and 1 not in opt.state_dict()["state"]


def test_zero_grad():
    a = deepgrad.ones(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    a.grad = deepgrad.ones(3)
    array = a.grad.array
    opt.zero_grad(set_to_none=False)
    assert a.grad.array is array and not array.any()
    opt.zero_grad()
    assert a.grad is None


# ---------------------------------------------------------------------- in place, float32, no allocations


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=CONFIG_IDS)
def test_float32_stays_float32_and_updates_are_in_place(name, kwargs):
    initial, grads = _problem(seed=5, steps=3)
    params = [deepgrad.tensor(a, dtype=deepgrad.float32, requires_grad=True) for a in initial]
    arrays = [p.array for p in params]
    opt = getattr(optim, name)(params, **kwargs)
    buffers = None
    for step in range(3):
        _set_grads(params, grads[step], lambda g: deepgrad.tensor(g, dtype=deepgrad.float32))
        opt.step()
        for p, array in zip(params, arrays):
            assert p.array is array and p.dtype == np.float32
        current = {(i, k): v.array for i, p in enumerate(params) for k, v in opt.state[p].items() if k != "step"}
        assert all(v.dtype == np.float32 for v in current.values())
        if buffers is not None:  # the same state arrays, updated in place
            assert all(current[key] is buffers[key] for key in buffers)
        buffers = current


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}),
        ("Adam", {"amsgrad": True, "weight_decay": 0.1}),
        ("AdamW", {}),
        ("RMSprop", {"centered": True, "momentum": 0.9}),
        ("Adagrad", {"weight_decay": 0.1}),
    ],
)
def test_a_step_allocates_no_parameter_sized_arrays(name, kwargs):
    p = deepgrad.zeros(500, 500, dtype=deepgrad.float32, requires_grad=True)  # 1 MB
    p.grad = deepgrad.full((500, 500), 0.5, dtype=deepgrad.float32)
    opt = getattr(optim, name)([p], **kwargs)
    opt.step()  # the first step creates the state and the scratch buffers
    opt.step()
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, f"{name} allocated {peak} bytes in one step"


def test_step_invalidates_graphs_that_saved_the_old_parameter():
    w = deepgrad.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    y = (w * w).sum()
    w.grad = deepgrad.ones(2)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        y.backward()


# ---------------------------------------------------------------------- state dicts


def _run(opt, params, grads):
    for g in grads:
        _set_grads(params, g, lambda a: deepgrad.tensor(a, dtype=deepgrad.float64))
        opt.step()


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=CONFIG_IDS)
def test_state_dict_round_trip_equals_an_uninterrupted_run(name, kwargs):
    initial, grads = _problem(seed=6)
    cls = getattr(optim, name)
    straight = _dg_params(initial)
    _run(cls(straight, **kwargs), straight, grads)

    first = _dg_params(initial)
    opt = cls(first, **kwargs)
    _run(opt, first, grads[:5])
    saved = opt.state_dict()
    weights = [p.array.copy() for p in first]
    snapshot = json.dumps(_plain(saved))
    _run(opt, first, grads[5:6])  # the saved dict is a snapshot: later steps do not change it
    assert json.dumps(_plain(saved)) == snapshot

    resumed = _dg_params(weights)
    fresh = cls(resumed, **{**kwargs, "lr": 0.123})
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == saved["param_groups"][0]["lr"] != 0.123
    _run(fresh, resumed, grads[5:])
    for p, q in zip(resumed, straight):
        np.testing.assert_array_equal(p.array, q.array)


def _plain(state_dict):
    """The state dict as JSON-able Python values (what a checkpoint writer would do)."""
    return {
        "state": {
            str(i): {k: (v.array.tolist() if isinstance(v, deepgrad.Tensor) else v) for k, v in s.items()}
            for i, s in state_dict["state"].items()
        },
        "param_groups": state_dict["param_groups"],
    }


def test_state_dict_layout_matches_torch():
    torch = _torch()
    initial, grads = _problem(seed=7, steps=2)
    ours, theirs = _dg_params(initial), _torch_params(torch, initial)
    opt = optim.Adam([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.1}], amsgrad=True)
    ref = torch.optim.Adam([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.1}], amsgrad=True, foreach=False)
    for step in range(2):
        _set_grads(ours, grads[step], lambda g: deepgrad.tensor(g, dtype=deepgrad.float64), skip={2})
        _set_grads(theirs, grads[step], torch.tensor, skip={2})
        opt.step()
        ref.step()
    mine, reference = opt.state_dict(), ref.state_dict()
    assert list(mine["state"]) == sorted(reference["state"]) == [0, 1, 3]
    for index in mine["state"]:
        assert set(mine["state"][index]) == set(reference["state"][index])
        assert isinstance(mine["state"][index]["step"], int)
        assert isinstance(mine["state"][index]["exp_avg"], deepgrad.Tensor)
    assert (
        [g["params"] for g in mine["param_groups"]]
        == [g["params"] for g in reference["param_groups"]]
        == [
            [0],
            [1, 2, 3],
        ]
    )
    for ours_group, torch_group in zip(mine["param_groups"], reference["param_groups"]):
        for key, value in ours_group.items():
            assert torch_group[key] == value, key


def test_load_state_dict_from_json_like_values():
    """A checkpoint stored as JSON + arrays: string indices, lists for tuples, arrays for buffers, a tensor step."""
    initial, grads = _problem(seed=8, steps=8)
    straight = _dg_params(initial)
    _run(optim.Adam(straight, lr=0.01, betas=(0.8, 0.9)), straight, grads)

    first = _dg_params(initial)
    opt = optim.Adam(first, lr=0.01, betas=(0.8, 0.9))
    _run(opt, first, grads[:4])
    saved = json.loads(json.dumps(_plain(opt.state_dict())))
    for entry in saved["state"].values():
        entry["exp_avg"] = np.array(entry["exp_avg"])
        entry["exp_avg_sq"] = deepgrad.tensor(entry["exp_avg_sq"], dtype=deepgrad.float64)
        entry["step"] = deepgrad.tensor(float(entry["step"]))
    fresh = optim.Adam(first, lr=0.5)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["betas"] == (0.8, 0.9) and fresh.param_groups[0]["lr"] == 0.01
    _run(fresh, first, grads[4:])
    for p, q in zip(first, straight):
        np.testing.assert_allclose(p.array, q.array, rtol=1e-14, atol=1e-15)


def test_load_state_dict_casts_buffers_to_the_parameter_dtype():
    p = deepgrad.ones(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict(
        {"state": {0: {"momentum_buffer": np.ones(3)}}, "param_groups": [{**opt.state_dict()["param_groups"][0]}]}
    )
    assert opt.state[p]["momentum_buffer"].dtype == np.float32


def test_load_state_dict_errors():
    a, b = deepgrad.ones(3, requires_grad=True), deepgrad.ones(2, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = deepgrad.ones(3), deepgrad.ones(2)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="has 2 parameters, this optimizer's group 0 has 1"):
        optim.SGD([a], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"'momentum_buffer' has shape \(3,\) but its parameter has shape \(2,\)"):
        optim.SGD([b, a], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr=-1.0"):
        opt.load_state_dict(bad)


def test_adagrad_state_exists_from_construction_as_in_torch():
    torch = _torch()
    p = deepgrad.ones(2, requires_grad=True)
    q = torch.ones(2, requires_grad=True)
    ours = optim.Adagrad([p], initial_accumulator_value=0.25).state_dict()["state"]
    theirs = torch.optim.Adagrad([q], initial_accumulator_value=0.25).state_dict()["state"]
    assert set(ours[0]) == set(theirs[0]) == {"step", "sum"}
    np.testing.assert_array_equal(ours[0]["sum"].array, theirs[0]["sum"].numpy())


def test_repr_lists_the_groups():
    opt = optim.SGD([deepgrad.ones(1, requires_grad=True)], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ---------------------------------------------------------------------- bad input


def _p(*shape):
    return deepgrad.ones(*shape, requires_grad=True)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_negative_lr_and_weight_decay_are_rejected(name):
    cls = getattr(optim, name)
    with pytest.raises(ValueError, match=rf"{name}: lr=-0.1 in param group 0: must be >= 0"):
        cls([_p(2)], lr=-0.1)
    with pytest.raises(ValueError, match=r"weight_decay=-0.01 in param group 0: must be >= 0"):
        cls([_p(2)], weight_decay=-0.01)
    with pytest.raises(ValueError, match=r"lr=-1 in param group 1"):
        cls([{"params": [_p(2)]}, {"params": [_p(2)], "lr": -1}], lr=0.1)
    with pytest.raises(TypeError, match=r"lr='0.1'.*real number"):
        cls([_p(2)], lr="0.1")
    with pytest.raises(ValueError, match="NaN"):
        cls([_p(2)], lr=float("nan"))


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 1.5])
def test_momentum_outside_0_1_is_rejected(momentum):
    with pytest.raises(ValueError, match=rf"momentum={momentum}.*\[0.0, 1.0\)"):
        optim.SGD([_p(2)], lr=0.1, momentum=momentum)
    with pytest.raises(ValueError, match=rf"momentum={momentum}"):
        optim.RMSprop([_p(2)], momentum=momentum)


@pytest.mark.parametrize("betas,bad", [((-0.1, 0.999), "betas\\[0\\]=-0.1"), ((0.9, 1.0), "betas\\[1\\]=1.0")])
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_betas_outside_0_1_are_rejected(name, betas, bad):
    with pytest.raises(ValueError, match=bad):
        getattr(optim, name)([_p(2)], betas=betas)
    with pytest.raises(ValueError, match="pair"):
        getattr(optim, name)([_p(2)], betas=(0.9,))


def test_nesterov_needs_momentum_and_no_dampening():
    with pytest.raises(ValueError, match="nesterov=True.*requires momentum > 0"):
        optim.SGD([_p(2)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="dampening = 0"):
        optim.SGD([_p(2)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


def test_other_hyper_parameters_are_checked():
    with pytest.raises(ValueError, match="eps=-1e-08"):
        optim.Adam([_p(2)], eps=-1e-8)
    with pytest.raises(ValueError, match="alpha=1.5"):
        optim.RMSprop([_p(2)], alpha=1.5)
    with pytest.raises(ValueError, match="lr_decay=-1"):
        optim.Adagrad([_p(2)], lr_decay=-1)
    with pytest.raises(ValueError, match="initial_accumulator_value=-0.5"):
        optim.Adagrad([_p(2)], initial_accumulator_value=-0.5)
    with pytest.raises(ValueError, match="dampening=2"):
        optim.SGD([_p(2)], lr=0.1, momentum=0.5, dampening=2)


def test_empty_parameter_lists_are_rejected():
    with pytest.raises(ValueError, match="SGD got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam(p for p in [])
    with pytest.raises(ValueError, match=r"empty parameter list \(param group 1\)"):
        optim.Adam([{"params": [_p(2)]}, {"params": []}])


def test_a_parameter_listed_twice_is_rejected():
    a, b = _p(2), _p(3)
    with pytest.raises(ValueError, match=r"lists the same parameter \(shape \(2,\)\) twice, at positions 0 and 2"):
        optim.SGD([a, b, a], lr=0.1)
    with pytest.raises(ValueError, match=r"more than one parameter group \(groups 0 and 1\)"):
        optim.Adam([{"params": [a, b]}, {"params": [b]}])
    opt = optim.Adam([a])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [b, a]})
    assert len(opt.param_groups) == 1  # the failed group was not added


def test_non_tensors_and_wrong_containers_are_rejected():
    a = _p(2)
    with pytest.raises(TypeError, match="parameter 1 of group 0 is a ndarray, not a deepgrad Tensor"):
        optim.SGD([a, np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD({a}, lr=0.1)
    with pytest.raises(TypeError, match="state_dict"):
        optim.SGD({"w": a}, lr=0.1)
    with pytest.raises(TypeError, match="must be a dict"):
        optim.SGD([{"params": [a]}, _p(2)], lr=0.1)
    with pytest.raises(ValueError, match="no 'params' entry"):
        optim.SGD([{"lr": 0.1}], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf tensor"):
        optim.SGD([a * 2], lr=0.1)
    with pytest.raises(TypeError, match="dtype int64"):
        optim.SGD([deepgrad.arange(3)], lr=0.1)


def test_gradient_of_the_wrong_shape_is_reported():
    a = _p(2)
    opt = optim.SGD([a], lr=0.1)
    a.grad = deepgrad.ones(3)
    with pytest.raises(RuntimeError, match=r"shape \(2,\) has a gradient of shape \(3,\)"):
        opt.step()


# ---------------------------------------------------------------------- with deepgrad.nn models


@pytest.mark.parametrize(
    "name,kwargs",
    [("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}), ("Adam", {"lr": 0.01}), ("AdamW", {"lr": 0.01})],
)
def test_training_an_nn_model_matches_torch(name, kwargs):
    """Module.parameters() (Parameter, a Tensor subclass) through backward and the optimizer, against torch."""
    torch = _torch()
    nn = pytest.importorskip("deepgrad.nn")
    deepgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    reference.load_state_dict({k: torch.tensor(v.array) for k, v in model.state_dict().items()})
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    ref = getattr(torch.optim, name)(reference.parameters(), foreach=False, **kwargs)
    for _ in range(STEPS):
        opt.zero_grad()
        ref.zero_grad()
        loss = nn.CrossEntropyLoss()(model(deepgrad.tensor(x, dtype=deepgrad.float64)), deepgrad.tensor(y))
        torch_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        torch_loss.backward()
        assert loss.item() == pytest.approx(torch_loss.item(), rel=1e-9)
        opt.step()
        ref.step()
    for (key, p), (key_ref, q) in zip(model.named_parameters(), reference.named_parameters()):
        assert key == key_ref
        np.testing.assert_allclose(p.array, q.detach().numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True),
        lambda ps: optim.AdamW(ps, lr=0.1),
        lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
        lambda ps: optim.Adagrad(ps, lr=0.1),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"],
)
def test_updates_stay_in_place_with_one_state_buffer_set(make):
    w = deepgrad.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    opt = make([w])
    array = w.array
    buffers = None
    for step in range(3):
        w.grad = deepgrad.tensor([[0.1, -0.2], [0.3, 0.4]]) * (step + 1)
        opt.step()
        assert w.array is array and w.dtype == deepgrad.float32
        arrays = {k: v.array for k, v in opt.state[w].items() if isinstance(v, deepgrad.Tensor)}
        assert all(a.dtype == deepgrad.float32 for a in arrays.values())
        if buffers is not None:
            assert all(arrays[k] is buffers[k] for k in buffers)
        buffers = arrays
    if "step" in opt.state[w]:
        assert opt.state[w]["step"] == 3


ONE_PASS_CONFIGS = [
    ("SGD", {"lr": 0.05, "momentum": 0.9}, "sgd_momentum_step"),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05}, "sgd_momentum_step"),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "maximize": True}, "sgd_momentum_step"),
    ("Adam", {"lr": 0.01}, "adam_step"),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "maximize": True}, "adam_step"),
    ("AdamW", {"lr": 0.01, "betas": (0.8, 0.99)}, "adam_step"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs,kernel", ONE_PASS_CONFIGS)
def test_one_pass_updates_give_the_numpy_routes_bits_and_pytorchs_values(dtype, name, kwargs, kernel):
    pytest.importorskip("numba")
    from deepgrad.ops import kernels

    # large enough for the one-pass update (optimizer.ONE_PASS_MIN_SIZE); a small parameter beside it
    # stays on NumPy's passes
    shapes = [(80, 70), (3, 4)]
    initial, grads = _problem(seed=4, shapes=shapes, steps=6)
    kind = getattr(deepgrad, dtype)
    results = {}
    for route in ("compiled", "numpy"):
        params = [deepgrad.tensor(a, dtype=kind, requires_grad=True) for a in initial]
        opt = getattr(optim, name)(params, **kwargs)
        with deepgrad.compiled.disabled() if route == "numpy" else contextlib.nullcontext():
            for step in range(6):
                _set_grads(params, grads[step], lambda g: deepgrad.tensor(g, dtype=kind))
                opt.step()
        results[route] = [p.detach().numpy().copy() for p in params]
        assert all(p.dtype == kind for p in params)
    assert getattr(kernels, kernel).compiled is not None  # the compiled route did run
    for ours, theirs in zip(results["compiled"], results["numpy"]):
        np.testing.assert_array_equal(ours, theirs)
    torch = _torch()
    reference = [torch.tensor(a.astype(dtype), requires_grad=True) for a in initial]
    ref = getattr(torch.optim, name)(reference, foreach=False, **kwargs)
    for step in range(6):
        _set_grads(reference, grads[step], lambda g: torch.tensor(g.astype(dtype)))
        ref.step()
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for ours, theirs in zip(results["compiled"], reference):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=tolerance, atol=tolerance)

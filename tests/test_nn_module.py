"""Module API: registration order, nested state_dict keys equal to PyTorch's, in-place and strict loading,
hooks, modes, containers, Parameter, repr, summary totals, and the MLP model."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.models import MLP

torch = pytest.importorskip("torch")


def build_net(lib, zeros):
    """The same model in deepgrad (lib=deepgrad.nn) and PyTorch (lib=torch.nn)."""

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.scale = lib.Parameter(zeros(1) + 1)
            self.features = lib.Sequential(lib.Linear(4, 8), lib.BatchNorm1d(8), lib.ReLU(), lib.Dropout(0.1))
            self.register_buffer("offset", zeros(8))
            self.blocks = lib.ModuleList([lib.Linear(8, 8) for _ in range(2)] + [lib.Tanh()])
            self.heads = lib.ModuleDict({"b": lib.Linear(8, 3, bias=False), "a": lib.Linear(8, 2)})
            self.register_buffer("cache", zeros(1), persistent=False)

        def forward(self, x):
            h = self.features(x) + self.offset
            for block in self.blocks:
                h = block(h)
            return self.heads["b"](h) * self.scale, self.heads["a"](h)

    return Net()


def ours_net():
    return build_net(nn, lambda n: dg.zeros(n, dtype=dg.float64)).double()


def torch_net():
    return build_net(torch.nn, lambda n: torch.zeros(n, dtype=torch.float64)).double()


def randomise(model):
    generator = np.random.default_rng(0)
    with dg.no_grad():
        for _, tensor in model.state_dict(keep_vars=True).items():
            if tensor.dtype.kind == "f":
                tensor.copy_(generator.uniform(0.5, 1.5, tensor.shape))


# ---------------------------------------------------------------------------------------------------
# names and order


def test_nested_names_match_torch():
    ours, theirs = ours_net(), torch_net()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(v.shape) for v in ours.state_dict().values()] == [
        tuple(v.shape) for v in theirs.state_dict().values()
    ]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert "cache" not in ours.state_dict()  # non-persistent buffer
    assert repr(ours) == repr(theirs)


def test_registration_order_is_assignment_order():
    def build(lib, make_param):
        class M(lib.Module):
            def __init__(self):
                super().__init__()
                self.zeta = lib.Linear(2, 2)
                self.alpha = make_param()
                self.mid = lib.Linear(2, 1)
                self.beta = make_param()
                self.zeta = lib.Linear(2, 2)  # re-assignment keeps the original place
                self.alpha = make_param()

        return M()

    ours = build(nn, lambda: nn.Parameter(dg.zeros(1)))
    theirs = build(torch.nn, lambda: torch.nn.Parameter(torch.zeros(1)))
    expected = ["alpha", "beta", "zeta.weight", "zeta.bias", "mid.weight", "mid.bias"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == expected
    assert list(ours.state_dict()) == expected
    assert [n for n, _ in ours.named_children()] == ["zeta", "mid"]


def test_shared_parameters_and_modules_are_yielded_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3  # the Sequential, the Linear once, the ReLU
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch
    tied = nn.Module()
    tied.a = nn.Linear(2, 2)
    tied.b = nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    assert len(list(tied.parameters())) == 3


def test_get_submodule_and_attribute_access():
    model = ours_net()
    assert model.get_submodule("features.1") is model.features[1]
    assert model.get_submodule("") is model
    with pytest.raises(AttributeError, match="no submodule 'missing'"):
        model.get_submodule("features.missing")
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nothing'"):
        model.nothing  # noqa: B018
    assert "features" in dir(model) and "scale" in dir(model)


# ---------------------------------------------------------------------------------------------------
# registration rules


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(dg.zeros(2))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = dg.zeros(2)
    m.w = None
    assert "w" in m._parameters and m.w is None and list(m.state_dict()) == []
    m.register_buffer("b", dg.zeros(2))
    m.b = dg.ones(2)  # a Tensor replaces a buffer
    assert (m.state_dict()["b"].array == 1).all()
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 3
    m.child = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="child module 'child'"):
        m.child = 5
    m.plain = dg.zeros(1)  # a plain Tensor attribute is neither parameter nor buffer
    assert "plain" not in m.state_dict()
    m.b = nn.Parameter(dg.zeros(2))  # a Parameter takes over the name of a buffer
    assert "b" in m._parameters and "b" not in m._buffers
    del m.child
    assert "child" not in m._modules


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dg.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    m = nn.Module()
    with pytest.raises(TypeError, match="nn.Parameter or None required"):
        m.register_parameter("w", dg.zeros(1))
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="be empty"):
        m.register_buffer("", None)
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_buffer("training", dg.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("f", lambda x: x)
    with pytest.raises(TypeError, match="argument 1 is a function, not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(dg.zeros(1))


# ---------------------------------------------------------------------------------------------------
# state_dict / load_state_dict


def test_state_dict_values_are_detached_and_share_memory():
    model = nn.Linear(3, 2)
    state = model.state_dict()
    assert isinstance(state, OrderedDict)
    assert not state["weight"].requires_grad and type(state["weight"]) is dg.Tensor
    assert np.shares_memory(state["weight"].array, model.weight.array)
    assert model.state_dict(keep_vars=True)["weight"] is model.weight


def test_load_torch_state_dict_and_back_gives_same_outputs():
    ours, theirs = ours_net(), torch_net()
    randomise(ours)
    ours.eval()
    theirs.eval()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((5, 4))
    for a, b in zip(ours(dg.tensor(x, dtype=dg.float64)), theirs(torch.tensor(x))):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-12)
    fresh = ours_net().eval()
    result = fresh.load_state_dict(theirs.state_dict())  # torch tensors are accepted directly
    assert result.missing_keys == [] and result.unexpected_keys == []
    for a, b in zip(fresh(dg.tensor(x, dtype=dg.float64)), theirs(torch.tensor(x))):
        np.testing.assert_allclose(a.array, b.detach().numpy(), rtol=1e-12)


def test_load_state_dict_copies_in_place():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight, data = model[0].weight, model[0].weight.array
    values = {k: np.full(v.shape, 0.5) for k, v in model.state_dict().items()}  # float64 numpy arrays
    values["1.num_batches_tracked"] = np.array(7)
    model.load_state_dict(values)
    assert model[0].weight is weight and weight.array is data  # optimizers keep valid references
    assert (weight.array == 0.5).all() and weight.dtype == dg.float32
    assert int(model[1].num_batches_tracked.item()) == 7 and model[1].num_batches_tracked.dtype == dg.int64
    assert weight.requires_grad


def test_strict_loading_lists_every_problem_in_one_error():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    before = {k: v.array.copy() for k, v in model.state_dict().items()}
    bad = {
        "0.weight": np.zeros((2, 3)),
        "0.bias": np.zeros(5),  # wrong shape
        "2.weight": np.zeros((1, 2)),
        "extra.weight": np.zeros(1),  # unexpected
    }  # "2.bias" missing
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert 'Missing key(s) in state_dict: "2.bias"' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in message
    assert "size mismatch for 0.bias: copying a param with shape (5,) from checkpoint" in message
    assert "the shape in current model is (2,)" in message
    for key, value in model.state_dict().items():  # nothing was changed
        assert np.array_equal(value.array, before[key])


def test_non_strict_loading_reports_keys_but_still_rejects_shapes():
    model = nn.Sequential(nn.Linear(3, 2))
    result = model.load_state_dict({"0.weight": np.ones((2, 3)), "other": np.ones(1)}, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["other"]
    assert (model[0].weight.array == 1).all()
    with pytest.raises(RuntimeError, match="size mismatch for 0.weight"):
        model.load_state_dict({"0.weight": np.ones((3, 2))}, strict=False)
    with pytest.raises(TypeError, match="dict of name -> array"):
        model.load_state_dict([("0.weight", np.ones((2, 3)))])
    with pytest.raises(TypeError, match="value for '0.weight'"):
        model.load_state_dict({"0.weight": "abc", "0.bias": np.ones(2)})


# ---------------------------------------------------------------------------------------------------
# hooks


def test_forward_hooks_and_pre_hooks():
    layer = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append(("pre", module))
        return (args[0] * 0,)

    def post(module, args, output):
        calls.append(("post", args[0].shape, output.shape))
        return output + 1

    h1 = layer.register_forward_pre_hook(pre)
    h2 = layer.register_forward_hook(post)
    out = layer(dg.ones(3, 2))
    np.testing.assert_allclose(out.array, np.broadcast_to(layer.bias.array + 1, (3, 2)), rtol=1e-6)
    assert calls == [("pre", layer), ("post", (3, 2), (3, 2))]
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    np.testing.assert_allclose(layer(dg.ones(1, 2)).array, (dg.ones(1, 2) @ layer.weight.T + layer.bias).array)
    assert len(calls) == 2


def test_hook_order_prepend_and_context_manager():
    layer = nn.Identity()
    order = []
    layer.register_forward_hook(lambda m, a, o: order.append("first"))
    layer.register_forward_hook(lambda m, a, o: order.append("second"))
    with layer.register_forward_hook(lambda m, a, o: order.append("prepended"), prepend=True):
        layer(dg.zeros(1))
    layer(dg.zeros(1))
    assert order == ["prepended", "first", "second", "first", "second"]
    with pytest.raises(TypeError, match="callable"):
        layer.register_forward_hook(3)


def test_forward_hooks_group_graph_nodes_by_layer():
    # what the visualisation uses: each layer's output tensor, in execution order
    model = MLP(4, [3], 2)
    seen = []
    for name, module in model.named_modules():
        if name:
            module.register_forward_hook(lambda m, a, o, name=name: seen.append((name, o.grad_fn)))
    model(dg.randn(2, 4))
    assert [name for name, _ in seen] == ["0", "1", "2"]
    assert all(fn is not None for _, fn in seen)


# ---------------------------------------------------------------------------------------------------
# modes, gradients, apply, dtype


def test_train_eval_propagate():
    model = ours_net()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.features.eval()
    assert not model.features[3].training and model.blocks.training
    with pytest.raises(ValueError, match="boolean"):
        model.train("yes")


def test_requires_grad_and_zero_grad():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    model[0].requires_grad_(False)
    model(dg.randn(4, 3)).sum().backward()
    assert model[0].weight.grad is None and model[1].weight.grad is not None
    grad = model[1].weight.grad
    model.zero_grad(set_to_none=False)
    assert model[1].weight.grad is grad and (grad.array == 0).all()
    model.zero_grad()
    assert model[1].weight.grad is None


def test_apply_visits_children_first():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    model.apply(zero_linear)
    assert (model[0].weight.array == 0).all() and (model[1][1].weight.array == 0).all()


def test_dtype_conversion_keeps_objects():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    assert model.double() is model and model[0].weight is weight and weight.dtype == dg.float64
    assert model[1].running_mean.dtype == dg.float64 and model[1].num_batches_tracked.dtype == dg.int64
    model.to(dg.float32)
    assert weight.dtype == dg.float32
    assert model.to("cpu") is model
    with pytest.raises(TypeError, match="floating-point"):
        model.to(dg.int64)


def test_deepcopy_and_pickle():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    clone = copy.deepcopy(model)
    assert clone[0].weight is not model[0].weight and isinstance(clone[0].weight, nn.Parameter)
    assert np.array_equal(clone[0].weight.array, model[0].weight.array)
    assert not np.shares_memory(clone[0].weight.array, model[0].weight.array)
    assert clone[0].weight.requires_grad
    restored = pickle.loads(pickle.dumps(model))
    assert list(restored.state_dict()) == list(model.state_dict())
    x = dg.randn(3, 2)
    model.eval()
    restored.eval()
    np.testing.assert_array_equal(restored(x).array, model(x).array)


# ---------------------------------------------------------------------------------------------------
# Parameter


def test_parameter():
    t = dg.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, dg.Tensor) and isinstance(p, nn.Parameter)
    assert p.array is t.array and p.requires_grad and p.is_leaf
    assert nn.Parameter(t, requires_grad=False).requires_grad is False
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not hasattr(p, "__dict__")  # Tensor's __slots__ are kept
    y = (p * 2).sum()
    y.backward()
    np.testing.assert_array_equal(p.grad.array, np.full((2, 3), 2.0))
    assert type(p * 2) is dg.Tensor  # results of ops are plain tensors
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="floating-point"):
        nn.Parameter(dg.tensor([1, 2]))
    assert nn.Parameter(np.zeros(2)).dtype == dg.float64  # a NumPy array is used as it is


# ---------------------------------------------------------------------------------------------------
# containers


def test_sequential_indexing_and_editing_match_torch():
    def build(lib):
        return lib.Sequential(lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 4), lib.Tanh(), lib.Linear(4, 1))

    ours, theirs = build(nn), build(torch.nn)
    assert len(ours) == 5 and isinstance(ours[-1], nn.Linear) and ours[2].out_features == 4
    assert list(ours[1:3]._modules) == list(theirs[1:3]._modules) == ["1", "2"]
    del ours[1]
    del theirs[1]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.append(nn.Sigmoid())
    theirs.append(torch.nn.Sigmoid())
    ours.insert(0, nn.Identity())
    theirs.insert(0, torch.nn.Identity())
    assert repr(ours) == repr(theirs)
    ours[0] = nn.ReLU()
    assert isinstance(ours[0], nn.ReLU)
    with pytest.raises(IndexError, match="out of range"):
        ours[10]
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["hidden.weight", "hidden.bias"]
    assert [type(m).__name__ for m in named] == ["Linear", "ReLU"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
    assert repr(layers) == repr(theirs)  # "(0-2): 3 x Linear(...)"
    layers.append(nn.ReLU())
    layers += [nn.Linear(2, 1)]
    layers.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Linear", "Tanh", "Linear", "Linear", "ReLU", "Linear"]
    assert list(layers._modules) == [str(i) for i in range(6)]
    del layers[1]
    assert list(layers._modules) == [str(i) for i in range(5)] and len(layers) == 5
    assert isinstance(layers.pop(), nn.Linear) and len(layers) == 4
    assert len(layers[1:3]) == 2 and len(list(layers.parameters())) == 6
    with pytest.raises(NotImplementedError):
        layers(dg.zeros(1))
    with pytest.raises(TypeError, match="iterable of modules"):
        nn.ModuleList(nn.Linear(1, 1))


def test_module_dict():
    heads = nn.ModuleDict({"digit": nn.Linear(4, 10)})
    heads["parity"] = nn.Linear(4, 2)
    heads.update([("sign", nn.Linear(4, 1))])
    assert list(heads) == ["digit", "parity", "sign"] and "parity" in heads and len(heads) == 3
    assert [k for k, _ in heads.items()] == list(heads.keys())
    assert list(heads.state_dict())[:2] == ["digit.weight", "digit.bias"]
    assert isinstance(heads.pop("sign"), nn.Linear) and "sign" not in heads
    with pytest.raises(KeyError, match="no module 'nope'"):
        heads["nope"]
    with pytest.raises(TypeError, match="is not a Module subclass"):
        heads["bad"] = 3
    heads.clear()
    assert len(heads) == 0


# ---------------------------------------------------------------------------------------------------
# summary


def test_summary_totals_equal_parameter_count():
    model = MLP(784, [512, 256], 10, dropout=0.2)
    result = nn.summary(model, (32, 784))
    assert result.total_params == sum(p.numel() for p in model.parameters()) == 535_818
    assert result.trainable_params == 535_818 and result.non_trainable_params == 0
    assert [layer.type for layer in result.layers] == [
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert [layer.output_shape for layer in result.layers][::3] == [(32, 512), (32, 256), (32, 10)]
    assert sum(layer.num_params for layer in result.layers) == result.total_params
    assert result.output_shape == (32, 10) and result.input_shape == (32, 784)
    text = str(result)
    assert "Total params: 535,818" in text and "Trainable params: 535,818" in text
    assert "0 (Linear)" in text and "(32, 512)" in text and "401,920" in text
    assert repr(result) == text


def test_summary_counts_frozen_parameters_and_leaves_the_model_alone():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    before = {k: v.array.copy() for k, v in model.state_dict().items()}
    dg.manual_seed(3)
    state = dg.get_rng_state()
    result = nn.summary(model, (4, 3))
    assert result.total_params == 16 + 8 + 10
    assert result.non_trainable_params == 16 and result.trainable_params == 18
    assert all(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        assert np.array_equal(value.array, before[key])
    assert dg.get_rng_state() == state
    assert not model[0]._forward_hooks


def test_summary_custom_module_with_own_parameters_and_several_inputs():
    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = nn.Parameter(dg.zeros(5))
            self.a = nn.Linear(3, 5)

        def forward(self, x, y):
            return self.a(x) * self.gate + y

    result = nn.summary(Mix(), [(2, 3), (2, 5)])
    assert result.total_params == 25
    assert [(layer.name, layer.num_params) for layer in result.layers] == [("a", 20), ("Mix", 5)]
    assert result.input_shape == [(2, 3), (2, 5)]
    with pytest.raises(TypeError, match="shape of an input batch"):
        nn.summary(Mix(), "3")
    with pytest.raises(TypeError, match="Module"):
        nn.summary(lambda x: x, (1, 3))


# ---------------------------------------------------------------------------------------------------
# MLP


@pytest.mark.parametrize("hidden,dropout", [([], 0.0), ([5], 0.0), ([6, 5], 0.0), ([6, 5], 0.3)])
def test_mlp_layout_matches_equivalent_torch_sequential(hidden, dropout):
    model = MLP(4, hidden, 3, dropout=dropout).double()
    layers, width = [], 4
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()] + ([torch.nn.Dropout(dropout)] if dropout else [])
        width = size
    theirs = torch.nn.Sequential(*layers, torch.nn.Linear(width, 3)).double()
    assert list(model.state_dict()) == list(theirs.state_dict())
    assert repr(model).replace("MLP(", "Sequential(", 1) == repr(theirs)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    model.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((7, 4))
    np.testing.assert_allclose(model(dg.tensor(x, dtype=dg.float64)).array, theirs(torch.tensor(x)).detach().numpy())


def test_mlp_slices_are_plain_sequentials():
    model = MLP(4, [5], 3)
    head = model[:2]
    assert type(head) is nn.Sequential and list(head._modules) == ["0", "1"]
    assert head[0] is model[0]


def test_mlp_without_hidden_layers_is_the_linear_model():
    model = MLP(784, [], 10)
    assert len(model) == 1 and isinstance(model[0], nn.Linear)
    assert sum(p.numel() for p in model.parameters()) == 7850


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu", "silu"])
def test_mlp_activations(activation):
    model = MLP(3, [4, 4], 2, activation=activation)
    assert type(model[1]).__name__.lower().replace("leakyrelu", "leaky_relu") == activation
    assert model(dg.randn(5, 3)).shape == (5, 2)
    custom = MLP(3, 4, 2, activation=lambda: nn.LeakyReLU(0.2))
    assert custom[1].negative_slope == 0.2


def test_mlp_errors():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(3, [4], 2, activation="swish")
    with pytest.raises(ValueError, match="positive integers"):
        MLP(3, [0], 2)
    with pytest.raises(ValueError, match="dropout must be in"):
        MLP(3, [4], 2, dropout=1.0)
    with pytest.raises(TypeError, match="must return a Module"):
        MLP(3, [4], 2, activation=lambda: "relu")


def test_mlp_training_lowers_the_loss():
    dg.manual_seed(0)
    generator = np.random.default_rng(0)
    x = generator.standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like quadrants: needs the hidden layer
    model = MLP(2, [16], 2)
    criterion = nn.CrossEntropyLoss()
    inputs, targets = dg.tensor(x), dg.tensor(y)
    first = None
    for _ in range(300):
        loss = criterion(model(inputs), targets)
        first = loss.item() if first is None else first
        model.zero_grad()
        loss.backward()
        with dg.no_grad():
            for p in model.parameters():
                p.sub_(p.grad, alpha=0.5)
    assert loss.item() < 0.3 * first
    accuracy = (model(inputs).argmax(1).array == y).mean()
    assert accuracy > 0.9


def test_module_to_device_and_dtype():
    layer = nn.Linear(2, 3)
    assert layer.to(device="cpu").weight.dtype == np.float32
    assert layer.to("cpu", dg.float64).weight.dtype == np.float64
    assert layer.to(dtype=dg.float32).weight.dtype == np.float32


def test_parameter_list_and_dict_register_and_print_as_torch():
    torch = pytest.importorskip("torch")
    ours = nn.ParameterList([nn.Parameter(dg.zeros(2, 3)), dg.zeros(4)])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)), torch.zeros(4)])
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == 2 and ours[1].shape == (4,) and isinstance(ours[-1], nn.Parameter)
    ours.append(dg.ones(1))
    assert [name for name, _ in ours.named_parameters()] == ["0", "1", "2"]
    mapping = {"a": nn.Parameter(dg.zeros(2)), "b": nn.Parameter(dg.ones(1, dtype=dg.float64))}
    ours_dict = nn.ParameterDict(mapping)
    theirs_dict = torch.nn.ParameterDict(
        {"a": torch.nn.Parameter(torch.zeros(2)), "b": torch.nn.Parameter(torch.ones(1, dtype=torch.float64))}
    )
    assert repr(ours_dict) == repr(theirs_dict) and list(ours_dict.keys()) == ["a", "b"] and "a" in ours_dict

    class Mixture(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([dg.ones(3) for _ in range(2)])
            self.shifts = nn.ParameterDict({"x": dg.zeros(3)})

        def forward(self, v):
            return (v * self.scales[0] * self.scales[1] + self.shifts["x"]).sum()

    model = Mixture()
    model(dg.arange(3.0)).backward()
    assert sorted(model.state_dict()) == ["scales.0", "scales.1", "shifts.x"]
    assert model.scales[0].grad.tolist() == [0.0, 1.0, 2.0] and model.shifts["x"].grad.tolist() == [1.0, 1.0, 1.0]

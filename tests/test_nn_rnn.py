"""RNN, LSTM, GRU and their cells against torch.nn with the same weights: parameter names and shapes, reprs,
outputs, final states and every gradient (input, initial state, weights), in float64."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn

torch = pytest.importorskip("torch")

VARIANTS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", {"bias": False, "batch_first": True}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"batch_first": True, "bias": False}),
    ("GRU", {}),
    ("GRU", {"num_layers": 3, "bidirectional": True, "batch_first": True}),
]


def twins(name, kwargs, input_size=3, hidden_size=4):
    ours = getattr(nn, name)(input_size, hidden_size, **kwargs).double()
    theirs = getattr(torch.nn, name)(input_size, hidden_size, **kwargs).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(v.shape) for v in ours.state_dict().values()] == [
        tuple(v.shape) for v in theirs.state_dict().values()
    ]
    theirs.load_state_dict({k: torch.tensor(v.array) for k, v in ours.state_dict().items()})
    assert repr(ours) == repr(theirs)
    return ours, theirs


def states(name, array, module):
    if name == "LSTM":
        return (module.tensor(array[0], requires_grad=True), module.tensor(array[1], requires_grad=True))
    return module.tensor(array[0], requires_grad=True)


@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=[f"{n}-{k}" for n, k in VARIANTS])
@pytest.mark.parametrize("batched,with_state", [(True, False), (True, True), (False, True)])
def test_recurrent_layers_match_torch(name, kwargs, batched, with_state):
    rng = np.random.default_rng(0)
    ours, theirs = twins(name, kwargs)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    length, batch = 5, 2
    shape = ((batch, length, 3) if kwargs.get("batch_first") else (length, batch, 3)) if batched else (length, 3)
    x = rng.standard_normal(shape)
    state_shape = (layers * directions, batch, 4) if batched else (layers * directions, 4)
    initial = rng.standard_normal((2, *state_shape))
    results = []
    for module, framework in ((ours, dg), (theirs, torch)):
        inputs = framework.tensor(x, requires_grad=True)
        hx = states(name, initial, framework) if with_state else None
        output, final = module(inputs, hx)
        h_n, c_n = final if name == "LSTM" else (final, None)
        loss = (output * output).sum() + (h_n * 3).sum() + (c_n.sum() if c_n is not None else 0)
        loss.backward()
        grads = [inputs.grad] + ([s.grad for s in (hx if name == "LSTM" else (hx,))] if with_state else [])
        grads += [p.grad for p in module.parameters()]
        results.append([np.asarray(output.detach()), np.asarray(h_n.detach())] + [np.asarray(g) for g in grads])
    for ours_value, theirs_value in zip(*results):
        assert ours_value.shape == theirs_value.shape
        np.testing.assert_allclose(ours_value, theirs_value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(name, batched):
    rng = np.random.default_rng(1)
    ours, theirs = twins(name, {"bias": False} if name == "LSTMCell" else {})
    x = rng.standard_normal((3, 3) if batched else (3,))
    h = rng.standard_normal((2, 3, 4) if batched else (2, 4))
    results = []
    for module, framework in ((ours, dg), (theirs, torch)):
        inputs = framework.tensor(x, requires_grad=True)
        hx = (framework.tensor(h[0]), framework.tensor(h[1])) if name == "LSTMCell" else framework.tensor(h[0])
        out = module(inputs, hx)
        h_new = out[0] * 2 + out[1] if name == "LSTMCell" else out
        (h_new * h_new).sum().backward()
        results.append(
            [np.asarray(h_new.detach()), np.asarray(inputs.grad)] + [np.asarray(p.grad) for p in module.parameters()]
        )
    for ours_value, theirs_value in zip(*results):
        np.testing.assert_allclose(ours_value, theirs_value, rtol=1e-9, atol=1e-12)
    assert nn.RNNCell(3, 4, nonlinearity="relu").__repr__() == torch.nn.RNNCell(3, 4, nonlinearity="relu").__repr__()


def test_dropout_between_layers_and_errors():
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = dg.randn(6, 2, 3)
    lstm.eval()
    first, _ = lstm(x)
    again, _ = lstm(x)
    np.testing.assert_array_equal(first.array, again.array)  # no dropout outside training
    lstm.train()
    dg.manual_seed(0)
    dropped, _ = lstm(x)
    assert not np.allclose(dropped.array, first.array)
    with pytest.raises(ValueError, match=r"LSTM: expected input \(L, N, 3\) .* got shape \(6, 2, 5\)"):
        lstm(dg.randn(6, 2, 5))
    with pytest.raises(ValueError, match=r"LSTM: hx must be the pair \(h_0, c_0\)"):
        lstm(x, dg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"GRU: expected an initial state of shape \(1, 2, 4\), got \(2, 2, 4\)"):
        nn.GRU(3, 4)(x, dg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="proj_size is not supported"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 4, nonlinearity="gelu")


def test_a_character_model_trains():
    """An Embedding + LSTM + Linear next-character model learns a repeating string (the loss falls by half)."""
    dg.manual_seed(0)
    text = "hello world " * 8
    vocab = sorted(set(text))
    ids = dg.tensor([vocab.index(ch) for ch in text])

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(len(vocab), 8)
            self.lstm = nn.LSTM(8, 16, batch_first=True)
            self.head = nn.Linear(16, len(vocab))

        def forward(self, x):
            out, _ = self.lstm(self.embed(x))
            return self.head(out)

    model = CharModel()
    opt = dg.optim.Adam(model.parameters(), lr=0.05)
    inputs, targets = ids[:-1].reshape(1, -1), ids[1:]
    losses = []
    for _ in range(40):
        loss = nn.functional.cross_entropy(model(inputs).reshape(-1, len(vocab)), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2

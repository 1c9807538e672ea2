"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against torch.nn with copied weights:
parameter names, reprs, outputs, attention weights and gradients (float64, dropout off or in eval mode)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn

torch = pytest.importorskip("torch")


def copy_weights(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v.array) for k, v in ours.state_dict().items()})


def gradients(module):
    return [np.asarray(p.grad) for p in module.parameters()]


CASES = {
    "plain": dict(),
    "bool attn_mask": dict(attn_mask="bool"),
    "float attn_mask": dict(attn_mask="float"),
    "key_padding_mask": dict(key_padding_mask=True),
    "per-head weights": dict(average_attn_weights=False),
    "causal": dict(is_causal=True),
}


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_multihead_attention_matches_torch(case, batch_first):
    rng = np.random.default_rng(0)
    ours, theirs = nn.MultiheadAttention(8, 2, batch_first=batch_first).double(), None
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first).double()
    copy_weights(ours, theirs)
    assert repr(ours) == repr(theirs)
    length, source, batch = 4, 5, 3
    layout = (lambda s: (batch, s, 8)) if batch_first else (lambda s: (s, batch, 8))
    q, k, v = (
        rng.standard_normal(layout(length)),
        rng.standard_normal(layout(source)),
        rng.standard_normal(layout(source)),
    )
    if case.get("is_causal"):
        k, v, source = (
            k[:, :length] if batch_first else k[:length],
            v[:, :length] if batch_first else v[:length],
            length,
        )
    blocked = rng.random((length, source)) < 0.3
    blocked[:, 0] = False
    padding = np.zeros((batch, source), dtype=bool)
    padding[1, 3:] = True
    results = []
    for module, framework in ((ours, dg), (theirs, torch)):
        kwargs = {"average_attn_weights": case.get("average_attn_weights", True)}
        if case.get("attn_mask") == "bool":
            kwargs["attn_mask"] = framework.tensor(blocked)
        elif case.get("attn_mask") == "float":
            kwargs["attn_mask"] = framework.tensor(np.where(blocked, -2.0, 0.5))
        if case.get("key_padding_mask"):
            kwargs["key_padding_mask"] = framework.tensor(padding)
        if case.get("is_causal"):
            kwargs["is_causal"] = True
            kwargs["attn_mask"] = framework.tensor(np.triu(np.ones((length, length), dtype=bool), 1))
        inputs = [framework.tensor(a, requires_grad=True) for a in (q, k, v)]
        out, weights = module(*inputs, **kwargs)
        ((out * out).sum() + (weights * weights).sum()).backward()
        results.append(
            [np.asarray(out.detach()), np.asarray(weights.detach())]
            + [np.asarray(t.grad) for t in inputs]
            + gradients(module)
        )
    for ours_value, theirs_value in zip(*results):
        np.testing.assert_allclose(ours_value, theirs_value, rtol=1e-9, atol=1e-12)


def test_unbatched_attention_and_errors():
    ours, theirs = nn.MultiheadAttention(4, 2).double(), torch.nn.MultiheadAttention(4, 2).double()
    copy_weights(ours, theirs)
    x = np.random.default_rng(1).standard_normal((3, 4))
    out, weights = ours(dg.tensor(x), dg.tensor(x), dg.tensor(x))
    out_t, weights_t = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(weights.array, weights_t.detach().numpy(), rtol=1e-9)
    assert ours(dg.tensor(x), dg.tensor(x), dg.tensor(x), need_weights=False)[1] is None
    with pytest.raises(ValueError, match="embed_dim 6 is not divisible by num_heads 4"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="add_bias_kv, add_zero_attn and key/value sizes"):
        nn.MultiheadAttention(4, 2, kdim=3)


@pytest.mark.parametrize(
    "kwargs", [dict(), dict(norm_first=True, activation="gelu"), dict(batch_first=True, bias=False)], ids=str
)
def test_transformer_encoder_matches_torch(kwargs):
    rng = np.random.default_rng(2)
    ours_layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, **kwargs).double()
    theirs_layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, **kwargs).double()
    copy_weights(ours_layer, theirs_layer)
    assert repr(ours_layer) == repr(theirs_layer)
    ours = nn.TransformerEncoder(ours_layer, 2, norm=nn.LayerNorm(8).double())
    theirs = torch.nn.TransformerEncoder(
        theirs_layer, 2, norm=torch.nn.LayerNorm(8).double(), enable_nested_tensor=False
    )
    copy_weights(ours, theirs)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((3, 5, 8))
    padding = np.zeros((3, 5) if kwargs.get("batch_first") else (5, 3), dtype=bool)  # (N, S)
    padding[0, -1] = True
    results = []
    for module, framework in ((ours, dg), (theirs, torch)):
        inputs = framework.tensor(x, requires_grad=True)
        out = module(inputs, src_key_padding_mask=framework.tensor(padding))
        (out * out).sum().backward()
        results.append([np.asarray(out.detach()), np.asarray(inputs.grad)] + gradients(module))
    for ours_value, theirs_value in zip(*results):
        np.testing.assert_allclose(ours_value, theirs_value, rtol=1e-8, atol=1e-10)


def test_dropout_in_training_changes_the_encoder_output():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = dg.randn(4, 2, 8)
    layer.eval()
    evaluation = layer(x).array
    layer.train()
    assert not np.allclose(layer(x).array, evaluation)


@pytest.mark.parametrize("kwargs", [dict(), dict(norm_first=True, batch_first=True)], ids=str)
def test_transformer_decoder_and_full_model_match_torch(kwargs):
    rng = np.random.default_rng(3)
    ours = nn.Transformer(8, 2, 2, 2, 16, dropout=0.1, **kwargs).double()
    theirs = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.1, **kwargs).double()
    copy_weights(ours, theirs)
    ours.eval()
    theirs.eval()
    layout = (lambda n: (2, n, 8)) if kwargs.get("batch_first") else (lambda n: (n, 2, 8))
    src, tgt = rng.standard_normal(layout(5)), rng.standard_normal(layout(4))
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=dg.float64)
    np.testing.assert_array_equal(causal.array, torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, -1] = True
    results = []
    for module, framework in ((ours, dg), (theirs, torch)):
        inputs = [framework.tensor(src, requires_grad=True), framework.tensor(tgt, requires_grad=True)]
        mask = framework.tensor(causal.array)
        out = module(
            *inputs,
            tgt_mask=mask,
            src_key_padding_mask=framework.tensor(padding),
            memory_key_padding_mask=framework.tensor(padding),
        )
        (out * out).sum().backward()
        results.append([np.asarray(out.detach())] + [np.asarray(t.grad) for t in inputs] + gradients(module))
    for ours_value, theirs_value in zip(*results):
        np.testing.assert_allclose(ours_value, theirs_value, rtol=1e-8, atol=1e-10)
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]

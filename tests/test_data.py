"""deepgrad.data: Dataset / TensorDataset / Subset / random_split, DataLoader, default_collate, toy sets."""

import json
import math

import numpy as np
import pytest

import deepgrad
from deepgrad.data import (
    TOY_DATASETS,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    make_circles,
    make_moons,
    make_sine,
    make_spirals,
    make_xor,
    random_split,
)


def _dataset(n=10, features=3):
    X = np.arange(n * features, dtype=np.float32).reshape(n, features)
    return TensorDataset(X, np.arange(n))


class ListDataset(Dataset):
    """A generic (not in-memory) dataset that counts __getitem__ calls."""

    def __init__(self, n):
        self.n = n
        self.calls = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        return np.full(2, i, dtype=np.float32), i


def _labels(loader):
    return [y.numpy().tolist() for _, y in loader]


# ---------------------------------------------------------------------------------------------- datasets


def test_dataset_base_requires_len_and_getitem():
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="gather"):
        Dataset().gather(np.arange(2))
    assert Dataset.supports_gather is False


def test_tensor_dataset_samples_and_dtypes():
    X64 = np.random.rand(5, 2)
    ds = TensorDataset(X64, deepgrad.arange(5), deepgrad.tensor(np.ones(5), dtype=deepgrad.float64))
    assert len(ds) == 5
    x, y, w = ds[-1]
    assert x.dtype == np.float32  # float64 ndarray follows deepgrad.tensor's rule
    assert w.dtype == np.float64  # a Tensor keeps its dtype
    assert y.item() == 4 and y.dtype == np.int64
    np.testing.assert_allclose(x.numpy(), X64[4].astype(np.float32))
    assert [t.shape for t in ds.tensors] == [(5, 2), (5,), (5,)]


def test_tensor_dataset_sample_is_a_copy():
    ds = _dataset(4)
    x, _ = ds[1]
    x.array[:] = -1
    assert ds.arrays[0][1, 0] == 3.0


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"first dimension.*\(4, 2\), \(5,\)"):
        TensorDataset(np.zeros((4, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.array(1.0))
    with pytest.raises(TypeError, match="argument 1 is a list"):
        TensorDataset(np.zeros(3), [1, 2, 3])
    ds = _dataset(3)
    with pytest.raises(IndexError, match="index 3 is out of range for 3"):
        ds[3]
    with pytest.raises(TypeError, match="integers"):
        ds[1.0]


def test_subset_indexing_and_gather():
    ds = _dataset(10)
    sub = Subset(ds, [7, -1, 2])
    assert len(sub) == 3
    assert sub.indices.tolist() == [7, 9, 2]
    assert sub[1][1].item() == 9
    assert sub.supports_gather
    x, y = sub.gather(np.array([2, 0]))
    assert y.tolist() == [2, 7]
    np.testing.assert_array_equal(x, ds.arrays[0][[2, 7]])
    assert not Subset(ListDataset(5), [0, 1]).supports_gather


def test_subset_errors():
    ds = _dataset(4)
    with pytest.raises(IndexError, match="index 4 is out of range for a dataset of 4"):
        Subset(ds, [0, 4])
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        Subset(ds, [True, False])
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        Subset(ds, [[0, 1]])
    assert len(Subset(ds, [])) == 0


def test_random_split_counts_and_disjoint():
    ds = _dataset(10)
    a, b, c = random_split(ds, [5, 3, 2], seed=1)
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    together = np.concatenate([a.indices, b.indices, c.indices])
    assert sorted(together.tolist()) == list(range(10))


@pytest.mark.filterwarnings("ignore:Length of split")
@pytest.mark.parametrize(
    "n, fractions", [(10, [0.8, 0.2]), (11, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]), (100, [0.1] * 10), (5, [1.0, 0.0])]
)
def test_random_split_fraction_sizes_match_pytorch(n, fractions):
    torch = pytest.importorskip("torch")
    expected = [len(s) for s in torch.utils.data.random_split(range(n), fractions)]
    assert [len(s) for s in random_split(_dataset(n), fractions, seed=0)] == expected


def test_random_split_reproducible():
    ds = _dataset(50)
    first = [s.indices.tolist() for s in random_split(ds, [0.5, 0.5], seed=3)]
    assert first == [s.indices.tolist() for s in random_split(ds, [0.5, 0.5], seed=3)]
    assert first != [s.indices.tolist() for s in random_split(ds, [0.5, 0.5], seed=4)]
    deepgrad.manual_seed(7)
    unseeded = [s.indices.tolist() for s in random_split(ds, [25, 25])]
    deepgrad.manual_seed(7)
    assert unseeded == [s.indices.tolist() for s in random_split(ds, [25, 25])]


def test_random_split_errors():
    ds = _dataset(10)
    with pytest.raises(ValueError, match="sum to 9, but the dataset has 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [12, -2])
    with pytest.raises(ValueError, match="empty"):
        random_split(ds, [])
    with pytest.raises(TypeError, match="ints or fractions"):
        random_split(ds, ["a", 0.5])


# ---------------------------------------------------------------------------------------------- DataLoader


@pytest.mark.parametrize("bad", [0, -3])
def test_batch_size_must_be_positive(bad):
    with pytest.raises(ValueError, match=f"batch_size must be a positive int, got {bad}"):
        DataLoader(_dataset(), batch_size=bad)


@pytest.mark.parametrize("bad", [1.5, True, "8", None])
def test_batch_size_must_be_an_int(bad):
    with pytest.raises(TypeError, match="batch_size must be a positive int"):
        DataLoader(_dataset(), batch_size=bad)


def test_loader_argument_errors():
    with pytest.raises(TypeError, match="seed must be an int"):
        DataLoader(_dataset(), seed=1.5)
    with pytest.raises(TypeError, match="needs __len__ and __getitem__"):
        DataLoader(42)


@pytest.mark.parametrize("n, batch_size", [(10, 3), (10, 5), (10, 1), (10, 11), (1, 4), (0, 2)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_matches_pytorch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    ours = DataLoader(_dataset(n), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(range(n), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert len(list(ours)) == len(ours)


def test_in_order_batches_and_last_partial_batch():
    ds = _dataset(10)
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = batches[-1]
    assert isinstance(x, deepgrad.Tensor) and isinstance(y, deepgrad.Tensor)
    assert x.shape == (2, 3) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), ds.arrays[0][8:])


def test_drop_last():
    loader = DataLoader(_dataset(10), batch_size=4, drop_last=True)
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    shuffled = DataLoader(_dataset(10), batch_size=4, drop_last=True, shuffle=True, seed=0)
    sizes = [len(y) for y in _labels(shuffled)]
    assert sizes == [4, 4]


def test_in_order_batches_match_pytorch():
    torch = pytest.importorskip("torch")
    X = np.random.rand(13, 4).astype(np.float32)
    y = np.arange(13)
    ours = list(DataLoader(TensorDataset(X, y), batch_size=5))
    theirs = list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y)), 5))
    assert len(ours) == len(theirs)
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_shuffle_covers_every_sample_once_per_epoch():
    loader = DataLoader(_dataset(103), batch_size=10, shuffle=True, seed=0)
    orders = []
    for _ in range(3):
        order = np.concatenate([y.numpy() for _, y in loader])
        assert sorted(order.tolist()) == list(range(103))
        orders.append(order.tolist())
    assert orders[0] != orders[1] and orders[1] != orders[2]  # a new order each epoch
    assert orders[0] != list(range(103))
    assert loader.epoch == 3


def test_shuffled_features_stay_with_their_labels():
    ds = _dataset(20)
    for x, y in DataLoader(ds, batch_size=6, shuffle=True, seed=1):
        np.testing.assert_array_equal(x.numpy(), ds.arrays[0][y.numpy()])


def test_same_seed_same_order_different_seed_different_order():
    def epochs(seed):
        loader = DataLoader(_dataset(50), batch_size=8, shuffle=True, seed=seed)
        return [_labels(loader) for _ in range(2)]

    assert epochs(5) == epochs(5)
    assert epochs(5) != epochs(6)


def test_unseeded_shuffle_follows_manual_seed():
    deepgrad.manual_seed(11)
    a = DataLoader(_dataset(30), batch_size=7, shuffle=True)
    deepgrad.manual_seed(11)
    b = DataLoader(_dataset(30), batch_size=7, shuffle=True)
    deepgrad.manual_seed(12)
    c = DataLoader(_dataset(30), batch_size=7, shuffle=True)
    assert _labels(a) == _labels(b)
    assert _labels(a) != _labels(c)


def test_unshuffled_loader_does_not_touch_the_global_generator():
    deepgrad.manual_seed(0)
    DataLoader(_dataset(), batch_size=2)
    after = deepgrad.rand(3).numpy()
    deepgrad.manual_seed(0)
    np.testing.assert_array_equal(after, deepgrad.rand(3).numpy())


def test_state_dict_between_epochs_continues_identically():
    loader = DataLoader(_dataset(40), batch_size=6, shuffle=True, seed=3)
    for _ in range(2):
        _labels(loader)
    state = json.loads(json.dumps(loader.state_dict()))  # plain data: survives JSON
    expected = [_labels(loader) for _ in range(2)]
    # A loader built with another seed follows the restored state, not its own seed.
    resumed = DataLoader(_dataset(40), batch_size=6, shuffle=True, seed=99)
    resumed.load_state_dict(state)
    assert [_labels(resumed) for _ in range(2)] == expected
    assert resumed.epoch == loader.epoch == 4


def test_state_dict_mid_epoch_resumes_at_the_next_batch():
    loader = DataLoader(_dataset(40), batch_size=6, shuffle=True, seed=3)
    _labels(loader)
    it = iter(loader)
    seen = [next(it)[1].tolist() for _ in range(3)]
    state = loader.state_dict()
    assert state["batch"] == 3 and state["epoch"] == 1
    rest = [y.tolist() for _, y in it]
    following = _labels(loader)

    resumed = DataLoader(_dataset(40), batch_size=6, shuffle=True, seed=0)
    resumed.load_state_dict(state)
    assert _labels(resumed) == rest
    assert _labels(resumed) == following
    assert len(seen) + len(rest) == len(loader)


def test_state_dict_taken_inside_the_last_batch_counts_as_epoch_end():
    loader = DataLoader(_dataset(12), batch_size=4, shuffle=True, seed=2)
    state = None
    for _ in loader:
        state = loader.state_dict()  # a checkpoint callback saving at the end of the last step
    assert state["batch"] == 0 and state["epoch"] == 1
    expected = _labels(loader)
    resumed = DataLoader(_dataset(12), batch_size=4, shuffle=True, seed=2)
    resumed.load_state_dict(state)
    assert _labels(resumed) == expected


def test_state_dict_unshuffled_mid_epoch():
    loader = DataLoader(_dataset(10), batch_size=3)
    it = iter(loader)
    next(it)
    resumed = DataLoader(_dataset(10), batch_size=3)
    resumed.load_state_dict(loader.state_dict())
    assert _labels(resumed) == [[3, 4, 5], [6, 7, 8], [9]]
    assert _labels(resumed) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_load_state_dict_errors():
    loader = DataLoader(_dataset(10), batch_size=3, shuffle=True, seed=0)
    state = loader.state_dict()
    with pytest.raises(ValueError, match="num_samples=10, but this loader has 11"):
        DataLoader(_dataset(11), batch_size=3, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="shuffle=True"):
        DataLoader(_dataset(10), batch_size=3).load_state_dict(state)
    with pytest.raises(ValueError, match="missing keys"):
        loader.load_state_dict({"epoch": 0})
    with pytest.raises(ValueError, match="outside 0..4"):
        loader.load_state_dict({**state, "batch": 9})


class NoGetItem(TensorDataset):
    def __init__(self, *arrays):
        super().__init__(*arrays)
        self.gathers = 0

    def __getitem__(self, index):
        raise AssertionError("the vectorised path must not call __getitem__")

    def gather(self, indices):
        self.gathers += 1
        return super().gather(indices)


def test_tensor_dataset_uses_one_gather_per_batch():
    ds = NoGetItem(np.random.rand(25, 3).astype(np.float32), np.arange(25))
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    order = np.concatenate([y.numpy() for _, y in loader])
    assert sorted(order.tolist()) == list(range(25))
    assert ds.gathers == len(loader) == 7
    # A Subset of an in-memory dataset keeps the vectorised path.
    sub = Subset(ds, np.arange(0, 25, 2))
    assert [len(y) for _, y in DataLoader(sub, batch_size=5)] == [5, 5, 3]


def test_generic_dataset_falls_back_to_getitem_and_collate():
    ds = ListDataset(7)
    loader = DataLoader(ds, batch_size=3, shuffle=True, seed=0)
    batches = list(loader)
    assert ds.calls == 7
    x, y = batches[0]
    assert x.shape == (3, 2) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy())
    order = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(order.tolist()) == list(range(7))


def test_plain_sequence_dataset():
    loader = DataLoader([1.5, 2.5, 3.5], batch_size=2)
    batches = list(loader)
    assert batches[0].dtype == np.float32 and batches[0].tolist() == [1.5, 2.5]


def test_custom_collate_fn_gets_the_samples():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return samples

    batches = list(DataLoader(_dataset(5), batch_size=2, collate_fn=collate))
    assert seen == [2, 2, 1]
    assert isinstance(batches[0], list) and isinstance(batches[0][0], tuple)


def test_batches_do_not_alias_the_dataset():
    ds = _dataset(4)
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    x.array[:] = -7
    assert ds.arrays[0].min() >= 0


def test_default_collate_structures():
    batch = default_collate([{"x": np.zeros(2), "y": 1}, {"x": np.ones(2), "y": 0}])
    assert batch["x"].shape == (2, 2) and batch["x"].dtype == np.float32
    assert batch["y"].tolist() == [1, 0] and batch["y"].dtype == np.int64
    (a, b) = default_collate([(deepgrad.tensor([1.0], dtype=deepgrad.float64), 2.5)] * 3)
    assert a.dtype == np.float64 and a.shape == (3, 1)
    assert b.dtype == np.float32 and b.tolist() == [2.5] * 3


def test_default_collate_errors():
    with pytest.raises(ValueError, match=r"different shapes \(2,\), \(3,\)"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="cannot batch samples of type str"):
        default_collate(["a", "b"])
    with pytest.raises(ValueError, match="no samples"):
        default_collate([])


def test_repr():
    assert "batch_size=4" in repr(DataLoader(_dataset(), batch_size=4))


# ---------------------------------------------------------------------------------------------- toy sets

CLASSIFIERS = [make_spirals, make_circles, make_moons, make_xor]


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_classification_shapes_dtypes_and_balance(make):
    X, y = make(201, seed=0)
    assert X.shape == (201, 2) and X.dtype == np.float32 and X.flags.c_contiguous
    assert y.shape == (201,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.sum() == 201 and counts.max() - counts.min() <= 1
    assert np.isfinite(X).all()


@pytest.mark.parametrize("make", [*CLASSIFIERS, make_sine])
def test_deterministic_by_seed(make):
    a = make(60, seed=4)
    b = make(60, seed=4)
    c = make(60, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    deepgrad.manual_seed(2)
    d = make(60)
    deepgrad.manual_seed(2)
    np.testing.assert_array_equal(d[0], make(60)[0])


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_shuffle_flag(make):
    _, y = make(40, seed=0, shuffle=False)
    assert np.all(np.diff(y) >= 0)  # grouped by class
    _, y = make(40, seed=0)
    assert np.any(np.diff(y) < 0)


def test_spirals_classes_and_geometry():
    X, y = make_spirals(400, noise=0.0, n_classes=4, seed=0, shuffle=False)
    assert np.bincount(y).tolist() == [100] * 4
    r = np.linalg.norm(X.astype(np.float64), axis=1)
    assert r.max() <= 1.0 + 1e-6
    # With no noise each arm is theta = 2*pi*k/K + 4r exactly.
    k = y[r > 1e-3]
    theta = np.arctan2(X[r > 1e-3, 1], X[r > 1e-3, 0])
    offset = np.angle(np.exp(1j * (theta - 4 * r[r > 1e-3] - 2 * np.pi * k / 4)))
    np.testing.assert_allclose(offset, 0.0, atol=1e-5)
    X, _ = make_spirals(400, noise=0.3, seed=0)
    np.testing.assert_allclose(np.sort(np.linalg.norm(X, axis=1))[-1], 1.0, atol=1e-6)  # noise keeps radii


def test_circles_radii():
    X, y = make_circles(300, noise=0.0, factor=0.3, seed=1)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1], axis=1), 0.3, atol=1e-6)
    X, y = make_circles(4000, noise=0.05, seed=1)
    outer = np.linalg.norm(X[y == 0], axis=1)
    assert abs(outer.mean() - 1.0) < 0.01 and 0.03 < outer.std() < 0.07


def test_moons_geometry():
    X, y = make_moons(300, noise=0.0, seed=2)
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6


def test_xor_geometry():
    X, y = make_xor(400, noise=0.0, seed=3)
    assert np.all((X[:, 0] * X[:, 1] < 0) == (y == 1))
    assert np.abs(X).min() >= 0.1 - 1e-6 and np.abs(X).max() <= 1.0 + 1e-6
    quadrants = np.bincount((X[:, 0] > 0) * 2 + (X[:, 1] > 0))
    assert quadrants.tolist() == [100] * 4


def test_sine():
    x, y = make_sine(500, noise=0.0, seed=0, x_range=(-2.0, 3.0))
    assert x.shape == y.shape == (500, 1) and x.dtype == y.dtype == np.float32
    assert x.min() >= -2.0 and x.max() <= 3.0
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    x, y = make_sine(20000, noise=0.2, seed=0)
    assert abs(float(np.std(y - np.sin(x))) - 0.2) < 0.01
    assert x.min() >= -math.pi and x.max() <= math.pi


def test_toy_errors():
    with pytest.raises(ValueError, match="n_samples must be an int >= 3"):
        make_spirals(2)
    with pytest.raises(ValueError, match="n_classes must be an int >= 2"):
        make_spirals(10, n_classes=1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        make_moons(10, noise=-0.1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        make_xor(10, noise=float("nan"))
    with pytest.raises(ValueError, match="factor"):
        make_circles(10, factor=1.5)
    with pytest.raises(ValueError, match="low < high"):
        make_sine(10, x_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="n_samples"):
        make_circles(2.5)


def test_toy_registry_and_loader():
    assert set(TOY_DATASETS) == {"spirals", "circles", "moons", "xor", "sine"}
    X, y = TOY_DATASETS["circles"](n_samples=64, noise=0.1, seed=0)
    xb, yb = next(iter(DataLoader(TensorDataset(X, y), batch_size=64)))
    assert xb.shape == (64, 2) and yb.shape == (64,)

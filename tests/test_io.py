"""Weight files: safetensors round trips, atomic writes, clear errors for bad files, PyTorch interchange."""

from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest

import deepgrad
from deepgrad import io as dio
from deepgrad.cli import UsageError
from deepgrad.errors import WeightFileError

pytest.importorskip("safetensors")


def _files(directory):
    return sorted(os.listdir(directory))


@pytest.fixture
def state():
    rng = np.random.default_rng(0)
    return {
        "layer.weight": deepgrad.tensor(rng.standard_normal((3, 4)), dtype=deepgrad.float32),
        "layer.bias": deepgrad.tensor(rng.standard_normal(3), dtype=deepgrad.float64),
        "scalar": deepgrad.tensor(2.5, dtype=deepgrad.float64),
        "half": deepgrad.tensor(rng.standard_normal((2, 2)), dtype=deepgrad.float16),
        "count": deepgrad.tensor(7, dtype=deepgrad.int64),
        "steps": deepgrad.tensor(rng.integers(-100, 100, (2, 3, 2)), dtype=deepgrad.int32),
        "small": deepgrad.tensor([1, -2, 3], dtype=deepgrad.int8),
        "shorts": deepgrad.tensor([[1, -2]], dtype=deepgrad.int16),
        "pixels": deepgrad.tensor(rng.integers(0, 256, (2, 5)), dtype=deepgrad.uint8),
        "mask": deepgrad.tensor([True, False, True]),
        "empty": deepgrad.zeros(0, 3),
        "a_last_name": deepgrad.ones(1),
    }


def test_round_trip_keeps_dtypes_shapes_values_and_order(tmp_path, state):
    path = tmp_path / "model.safetensors"
    dio.save(state, path)
    loaded = dio.load(path)
    assert list(loaded) == list(state)  # the saved order, not safetensors' sorted order
    for name, original in state.items():
        value = loaded[name]
        assert isinstance(value, deepgrad.Tensor)
        assert value.dtype == original.dtype and value.shape == original.shape, name
        np.testing.assert_array_equal(value.array, original.array)
        assert not np.shares_memory(value.array, original.array)
        assert value.array.flags.writeable and not value.requires_grad
    assert _files(tmp_path) == ["model.safetensors"]


def test_save_accepts_parameters_arrays_and_non_contiguous_data(tmp_path):
    w = deepgrad.randn(3, 4, requires_grad=True)
    array = np.arange(12.0).reshape(3, 4).T  # a transposed view
    dio.save({"w": w, "t": array, "v": w[:, 1]}, str(tmp_path / "w.safetensors"))
    loaded = dio.load(str(tmp_path / "w.safetensors"))
    np.testing.assert_array_equal(loaded["w"].array, w.array)
    np.testing.assert_array_equal(loaded["t"].array, array)
    np.testing.assert_array_equal(loaded["v"].array, w.array[:, 1])


def test_metadata_round_trip(tmp_path):
    path = tmp_path / "m.safetensors"
    dio.save({"w": deepgrad.ones(2)}, path, metadata={"epoch": "3", "model": "mlp 784-512-10"})
    assert dio.load_metadata(path) == {"epoch": "3", "model": "mlp 784-512-10"}
    dio.save({"w": deepgrad.ones(2)}, path)
    assert dio.load_metadata(path) == {}


def test_overwriting_replaces_the_file(tmp_path):
    path = tmp_path / "w.safetensors"
    dio.save({"w": deepgrad.zeros(2)}, path)
    dio.save({"w": deepgrad.ones(3)}, path)
    np.testing.assert_array_equal(dio.load(path)["w"].array, np.ones(3, np.float32))
    assert _files(tmp_path) == ["w.safetensors"]


def test_new_files_get_the_normal_permissions(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    path = tmp_path / "w.safetensors"
    dio.save({"w": deepgrad.zeros(2)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


# ---------------------------------------------------------------------- atomic writes


def _interrupted_writer(arrays, filename, metadata=None):
    """Write half a file, then fail, like a crash or a full disk in the middle of writing."""
    with open(filename, "wb") as handle:
        handle.write(b'\x40\x00\x00\x00\x00\x00\x00\x00{"w": {"dtype"')
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failure", ["during the write", "at fsync", "at the rename"])
def test_a_failed_write_leaves_the_previous_file_intact_and_no_temporary_file(tmp_path, monkeypatch, failure):
    import safetensors.numpy

    path = tmp_path / "w.safetensors"
    dio.save({"w": deepgrad.tensor([1.0, 2.0])}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(5, "Input/output error")

    if failure == "during the write":
        monkeypatch.setattr(safetensors.numpy, "save_file", _interrupted_writer)
    elif failure == "at fsync":
        monkeypatch.setattr(os, "fsync", fail)
    else:
        monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        dio.save({"w": deepgrad.tensor([5.0, 6.0, 7.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(dio.load(path)["w"].array, [1.0, 2.0])
    assert _files(tmp_path) == ["w.safetensors"]


def test_a_failed_first_write_creates_nothing(tmp_path, monkeypatch):
    import safetensors.numpy

    monkeypatch.setattr(safetensors.numpy, "save_file", _interrupted_writer)
    with pytest.raises(OSError, match="No space left"):
        dio.save({"w": deepgrad.ones(2)}, tmp_path / "new.safetensors")
    assert _files(tmp_path) == []


# ---------------------------------------------------------------------- bad files


def _check_error(path, *fragments):
    with pytest.raises(dio.WeightFileError) as info:
        dio.load(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, ValueError) and not isinstance(info.value, UsageError)  # a library error


def test_truncated_files_raise_an_error_naming_the_file(tmp_path, state):
    good = tmp_path / "good.safetensors"
    dio.save(state, good)
    data = good.read_bytes()
    for cut, name in [(len(data) - 7, "tail.safetensors"), (len(data) // 2, "half.safetensors"), (5, "head")]:
        path = tmp_path / name
        path.write_bytes(data[:cut])
        _check_error(path, "not a valid safetensors weight file")


def test_garbage_and_empty_files_raise_an_error_naming_the_file(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes())
    _check_error(garbage, "not a valid safetensors weight file")
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    _check_error(empty, "only 0 bytes")
    bad_json = tmp_path / "json.safetensors"
    bad_json.write_bytes((10).to_bytes(8, "little") + b"{not json}")
    _check_error(bad_json, "not a valid safetensors weight file")


class _Exploit:
    """Unpickling this would create a marker file: load must never unpickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_file_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"w": _Exploit(str(marker))}, handle)
    _check_error(path, "pickle", "never loads")
    assert not marker.exists()


def test_a_torch_save_checkpoint_is_refused_with_a_hint(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    _check_error(path, "torch.save", "safetensors.torch.save_file")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such weight file"):
        dio.load(tmp_path / "missing.safetensors")
    with pytest.raises(dio.WeightFileError, match="no such weight file"):
        dio.load_metadata(tmp_path / "missing.safetensors")
    with pytest.raises(dio.WeightFileError, match="is a directory"):
        dio.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dio.save({"w": deepgrad.ones(1)}, tmp_path / "no" / "such" / "dir.safetensors")


def test_unsupported_dtype_in_a_file_is_named(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    path = tmp_path / "bf16.safetensors"
    save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(path))
    _check_error(path, "'w'", "BF16", "float32")


def test_save_rejects_bad_input(tmp_path):
    path = tmp_path / "w.safetensors"
    with pytest.raises(TypeError, match="names must be strings"):
        dio.save({1: deepgrad.ones(1)}, path)
    with pytest.raises(TypeError, match="entry 'w' is a list, not a Tensor"):
        dio.save({"w": [1.0]}, path)
    with pytest.raises(TypeError, match="expected a dict"):
        dio.save([deepgrad.ones(1)], path)
    with pytest.raises(TypeError, match="metadata must map strings to strings"):
        dio.save({"w": deepgrad.ones(1)}, path, metadata={"epoch": 3})
    with pytest.raises(ValueError, match="reserved"):
        dio.save({"w": deepgrad.ones(1)}, path, metadata={"deepgrad.key_order": "[]"})
    with pytest.raises(TypeError, match="complex128"):
        dio.save({"w": np.ones(2, dtype=complex)}, path)
    assert _files(tmp_path) == []


def test_missing_safetensors_package_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r'pip install "deepgrad\[weights\]"'):
        dio.save({"w": deepgrad.ones(1)}, tmp_path / "w.safetensors")
    with pytest.raises(ImportError, match=r"deepgrad\[weights\]"):
        dio.load(tmp_path / "w.safetensors")


# ---------------------------------------------------------------------- PyTorch interchange


def _models(torch):
    from deepgrad import nn

    ours = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    return ours, theirs


def test_a_file_written_by_torch_loads_into_deepgrad(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    torch.manual_seed(0)
    ours, theirs = _models(torch)
    path = tmp_path / "torch.safetensors"
    save_file(theirs.state_dict(), str(path))
    loaded = dio.load(path)
    assert sorted(loaded) == sorted(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        assert loaded[name].dtype == np.float32
        np.testing.assert_array_equal(loaded[name].array, value.numpy())
    ours.load_state_dict(loaded)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(deepgrad.tensor(x)).array, expected, rtol=1e-5, atol=1e-6)


def test_a_file_written_by_deepgrad_loads_into_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    deepgrad.manual_seed(1)
    ours, theirs = _models(torch)
    path = tmp_path / "deepgrad.safetensors"
    dio.save(ours.state_dict(), path, metadata={"format": "pt"})
    result = theirs.load_state_dict(load_file(str(path)), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(deepgrad.tensor(x)).array, expected, rtol=1e-5, atol=1e-6)


def test_deepgrad_model_round_trip(tmp_path):
    from deepgrad import nn

    deepgrad.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    path = tmp_path / "model.safetensors"
    dio.save(model.state_dict(), path)
    deepgrad.manual_seed(3)
    other = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    other.load_state_dict(dio.load(path))
    x = deepgrad.randn(4, 3)
    np.testing.assert_array_equal(other(x).array, model(x).array)


# ---------------------------------------------------------------------------------------------- issue 9


@pytest.mark.parametrize("kind", ["a FIFO", "a symbolic link loop", "a character device", "a broken symbolic link"])
def test_weight_files_that_are_not_regular_files_are_refused_unopened(tmp_path, kind):
    import os

    path = tmp_path / "w.safetensors"
    if kind == "a FIFO":
        os.mkfifo(path)
    elif kind == "a symbolic link loop":
        os.symlink(path.name, path)
    elif kind == "a character device":
        os.symlink("/dev/zero", path)
    else:
        os.symlink("missing", path)
    with pytest.raises(WeightFileError, match=rf"{path} is not a regular file \({kind}\)"):
        dio.load(path)
    with pytest.raises(WeightFileError, match="is not a regular file"):
        dio.load_metadata(path)


def test_load_of_a_checkpoint_gives_its_model_weights(tmp_path):
    from deepgrad import nn, optim
    from deepgrad.train import save_checkpoint

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = optim.Adam(model.parameters())
    model(deepgrad.randn(5, 3)).sum().backward()
    optimizer.step()
    save_checkpoint(tmp_path / "c.safetensors", model, optimizer, epoch=1)
    loaded = dio.load(tmp_path / "c.safetensors")
    assert list(loaded) == list(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded[name].array, value.array)
    assert len(dio.read_tensors(tmp_path / "c.safetensors")) > len(loaded)  # the optimizer's buffers too


def test_temporary_files_of_dead_writers_are_removed_on_the_next_write(tmp_path):
    import os
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = tmp_path / f".w.safetensors.{gone.pid}.abc123.tmp"
    mine = tmp_path / f".w.safetensors.{os.getpid()}.def456.tmp"  # this process may be writing it
    stale.write_bytes(b"x")
    mine.write_bytes(b"x")
    dio.save({"w": deepgrad.ones(2)}, tmp_path / "w.safetensors")
    assert not stale.exists() and mine.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "w.safetensors"])


def test_parse_json_limits_nesting():
    assert dio.parse_json('{"a": [1, [2]]}', "f") == {"a": [1, [2]]}
    with pytest.raises(WeightFileError, match="f: the JSON nests more than 64 levels deep"):
        dio.parse_json("[" * 65 + "]" * 65, "f")
    with pytest.raises(WeightFileError, match="f: the JSON nests too deeply"):
        dio.parse_json("[" * 100_000 + "]" * 100_000, "f")

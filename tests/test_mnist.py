"""MNIST / Fashion-MNIST: IDX parsing and validation, file search, errors, verified download (local server only)."""

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from mnist_helpers import mnist_dir

import deepgrad
from deepgrad.cli import UsageError
from deepgrad.data import (
    MNIST,
    DataLoader,
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    FashionMNIST,
    default_data_dir,
    parse_idx,
    read_idx,
)
from deepgrad.data.mnist import IMAGES_MAGIC, LABELS_MAGIC, _digest, _Resource

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """Any download a test forgets to point at the local server hits a closed local port, never the internet."""
    monkeypatch.setattr(MNIST, "mirrors", ("http://127.0.0.1:9/",))
    monkeypatch.setattr(FashionMNIST, "mirrors", ("http://127.0.0.1:9/",))


def idx_bytes(array, magic=None, count=None):
    """IDX encoding of a uint8 array; ``count`` overrides the first dimension written in the header."""
    array = np.asarray(array, dtype=np.uint8)
    magic = (0x08 << 8 | array.ndim) if magic is None else magic
    dims = list(array.shape)
    if count is not None:
        dims[0] = count
    return struct.pack(f">I{array.ndim}I", magic, *dims) + array.tobytes()


def tiny_set(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_split(directory, prefix="train", n=5, gz=True, seed=0, images=None, labels=None):
    """Write one split's two IDX files (gzipped or not); return the arrays written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    default_images, default_labels = tiny_set(n, seed)
    images = default_images if images is None else images
    labels = default_labels if labels is None else labels
    for kind, content in (("images-idx3", idx_bytes(images)), ("labels-idx1", idx_bytes(labels))):
        name = f"{prefix}-{kind}-ubyte"
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (directory / name).write_bytes(content)
    return images, labels


# ---------------------------------------------------------------------------------------------- IDX parsing


def test_parse_idx_types_and_shapes():
    assert parse_idx(struct.pack(">IIBBB", LABELS_MAGIC, 3, 7, 8, 9)).tolist() == [7, 8, 9]
    data = struct.pack(">III", 0x00000D02, 2, 1) + np.array([1.5, -2.0], ">f4").tobytes()
    np.testing.assert_array_equal(parse_idx(data), np.array([[1.5], [-2.0]], np.float32))
    images, _ = tiny_set(3)
    np.testing.assert_array_equal(parse_idx(idx_bytes(images), expected_magic=IMAGES_MAGIC), images)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "too short"),
        (struct.pack(">I", 0x12340801) + b"\x00" * 8, "not an IDX magic number"),
        (struct.pack(">I", 0x00000703) + b"\x00" * 12, "not an IDX magic number"),
        (struct.pack(">II", 0x00000803, 2), "truncated header"),
        (struct.pack(">II", 0x00000800, 4), "not an IDX magic number"),
    ],
)
def test_parse_idx_rejects_bad_headers(data, message):
    with pytest.raises(DatasetFormatError, match=message):
        parse_idx(data, "some-file")


def test_parse_idx_size_checks_name_the_file():
    images, _ = tiny_set(4)
    with pytest.raises(DatasetFormatError, match=r"f\.idx: truncated: the header announces shape \(9, 28, 28\)"):
        parse_idx(idx_bytes(images, count=9), "f.idx")
    with pytest.raises(DatasetFormatError, match=r"f\.idx: has trailing bytes"):
        parse_idx(idx_bytes(images) + b"\x00", "f.idx")


# ---------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("gz", [True, False])
def test_tiny_files_load(tmp_path, gz):
    images, labels = write_split(tmp_path, "train", n=5, gz=gz)
    ds = MNIST(tmp_path, train=True)
    assert len(ds) == 5
    assert ds.images.shape == (5, 1, 28, 28) and ds.images.dtype == np.float32
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == labels.tolist()
    np.testing.assert_array_equal(ds.images[:, 0], images.astype(np.float32) / 255)
    assert ds.images_file.name == ("train-images-idx3-ubyte.gz" if gz else "train-images-idx3-ubyte")
    x, y = ds[2]
    assert isinstance(x, deepgrad.Tensor) and x.shape == (1, 28, 28) and y == labels[2]
    flat = MNIST(tmp_path, flatten=True)
    assert flat.images.shape == (5, 784)
    np.testing.assert_array_equal(flat.images, ds.images.reshape(5, 784))


def test_train_and_test_splits_and_mixed_compression(tmp_path):
    write_split(tmp_path, "train", n=6, gz=True, seed=1)
    _, test_labels = write_split(tmp_path, "t10k", n=3, gz=False, seed=2)
    assert len(MNIST(tmp_path, train=True)) == 6
    test = MNIST(tmp_path, train=False)
    assert len(test) == 3 and test.labels.tolist() == test_labels.tolist()
    assert "test, 3 samples" in repr(test)


@pytest.mark.parametrize("layout", ["mnist", "", "MNIST/raw"])
def test_search_directories(tmp_path, layout):
    write_split(tmp_path / layout, "train", n=2)
    assert MNIST(tmp_path).images_file.parent == tmp_path / layout


def test_fashion_looks_in_its_own_folder(tmp_path):
    write_split(tmp_path / "fashion-mnist", "train", n=2, seed=3)
    write_split(tmp_path / "mnist", "train", n=4, seed=4)
    assert len(FashionMNIST(tmp_path)) == 2
    assert len(MNIST(tmp_path)) == 4
    assert FashionMNIST.classes[9] == "Ankle boot"


def test_fashion_refuses_mnist_files_in_the_same_directory(tmp_path, monkeypatch):
    # Same names and sizes: a directory of MNIST files must not load silently as Fashion-MNIST.
    assert set(FashionMNIST.foreign_labels) == {r.digest for r in MNIST.resources if "labels" in r.name}
    write_split(tmp_path, "train", n=3, gz=False, seed=5)
    labels = tmp_path / "train-labels-idx1-ubyte"
    monkeypatch.setattr(FashionMNIST, "foreign_labels", {hashlib.sha256(labels.read_bytes()).hexdigest(): "MNIST"})
    with pytest.raises(
        DatasetFormatError, match="train-labels-idx1-ubyte: these are the MNIST files, not FashionMNIST"
    ):
        FashionMNIST(tmp_path)
    assert len(MNIST(tmp_path)) == 3  # the same files are fine as MNIST


def test_root_defaults_to_deepgrad_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    write_split(tmp_path / "mnist", "t10k", n=3)
    assert len(MNIST(train=False)) == 3
    monkeypatch.delenv("DEEPGRAD_DATA")
    assert default_data_dir() == Path.home() / ".cache" / "deepgrad"


def test_missing_files_message_lists_every_place(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(tmp_path / "nowhere", train=False)
    message = str(info.value)
    for place in [tmp_path / "nowhere" / "mnist", tmp_path / "nowhere", tmp_path / "nowhere" / "MNIST" / "raw"]:
        assert str(place) in message
    assert "t10k-images-idx3-ubyte[.gz]" in message and "t10k-labels-idx1-ubyte[.gz]" in message
    assert "root" in message and "DEEPGRAD_DATA" in message and "download=True" in message
    assert "--" not in message  # the library names no command-line flag; the command adds them
    assert not isinstance(info.value, UsageError) and isinstance(info.value, FileNotFoundError)


def test_half_a_split_is_not_found(tmp_path):
    write_split(tmp_path, "train", n=2)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="training files not found"):
        MNIST(tmp_path)


# ---------------------------------------------------------------------------------------------- corrupt files


def test_wrong_magic_names_the_file(tmp_path):
    write_split(tmp_path, "train", n=3, gz=False)
    labels_file = tmp_path / "train-labels-idx1-ubyte"
    images_file = tmp_path / "train-images-idx3-ubyte"
    # Swap the two files: each now has the other's magic number.
    images, labels = images_file.read_bytes(), labels_file.read_bytes()
    images_file.write_bytes(labels)
    labels_file.write_bytes(images)
    with pytest.raises(DatasetFormatError, match=rf"{images_file}: bad magic number 0x00000801, expected 0x00000803"):
        MNIST(tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    write_split(tmp_path, "train", n=20)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetFormatError, match=rf"{path}: corrupt or truncated gzip"):
        MNIST(tmp_path)


def test_not_gzip_despite_the_name(tmp_path):
    write_split(tmp_path, "train", n=2, gz=False)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / name).rename(tmp_path / f"{name}.gz")
    with pytest.raises(DatasetFormatError, match="train-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        MNIST(tmp_path)


def test_uncompressed_content_of_a_gzip_file(tmp_path):
    write_split(tmp_path, "train", n=2, gz=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.rename(tmp_path / "train-labels-idx1-ubyte")  # still gzip bytes, plain name
    with pytest.raises(DatasetFormatError, match="train-labels-idx1-ubyte: bad magic number 0x1f8b08"):
        MNIST(tmp_path)


@pytest.mark.parametrize("gz", [True, False])
def test_header_count_larger_than_data(tmp_path, gz):
    images, labels = tiny_set(4)
    write_split(tmp_path, "train", n=4, gz=gz)
    content = idx_bytes(images, count=60000)
    path = tmp_path / ("train-images-idx3-ubyte.gz" if gz else "train-images-idx3-ubyte")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(DatasetFormatError, match=rf"{path}: truncated: the header announces shape \(60000, 28, 28\)"):
        MNIST(tmp_path)


def test_image_and_label_counts_must_agree(tmp_path):
    images, labels = tiny_set(5)
    write_split(tmp_path, "train", images=images, labels=labels[:4])
    with pytest.raises(DatasetFormatError, match="holds 5 images but .*train-labels-idx1-ubyte.gz holds 4 labels"):
        MNIST(tmp_path)


def test_wrong_image_size(tmp_path):
    write_split(tmp_path, "train", images=np.zeros((3, 8, 8), np.uint8), labels=np.zeros(3, np.uint8))
    with pytest.raises(DatasetFormatError, match="images are 8x8, MNIST images are 28x28"):
        MNIST(tmp_path)


def test_label_out_of_range(tmp_path):
    images, labels = tiny_set(3)
    labels[1] = 12
    write_split(tmp_path, "train", images=images, labels=labels)
    with pytest.raises(DatasetFormatError, match="label 12 is outside 0..9"):
        MNIST(tmp_path)


def test_empty_file(tmp_path):
    write_split(tmp_path, "train", n=2, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DatasetFormatError, match="train-labels-idx1-ubyte: 0 bytes is too short"):
        MNIST(tmp_path)


def test_read_idx_directly(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(6).reshape(2, 3))))
    assert read_idx(path).tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(DatasetFormatError, match="cannot read"):
        read_idx(tmp_path)  # a directory


# ---------------------------------------------------------------------------------------------- DataLoader use


class _Gatherless(MNIST):
    def __getitem__(self, index):
        raise AssertionError("MNIST batches must come from one gather, not per-sample __getitem__")


def test_loader_gathers_mnist_batches(tmp_path):
    images, labels = write_split(tmp_path, "train", n=10)
    ds = _Gatherless(tmp_path)
    batches = list(DataLoader(ds, batch_size=4, shuffle=True, seed=0))
    order = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(order.tolist()) == sorted(labels.tolist())
    x, y = batches[0]
    assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64


def test_transforms_run_per_sample(tmp_path):
    _, labels = write_split(tmp_path, "train", n=6)
    ds = MNIST(tmp_path, transform=lambda x: x.reshape(784) * 2.0, target_transform=lambda y: 9 - y)
    assert not ds.supports_gather
    x, y = next(iter(DataLoader(ds, batch_size=6)))
    assert x.shape == (6, 784) and x.numpy().max() <= 2.0
    assert y.tolist() == (9 - labels.astype(np.int64)).tolist()
    np.testing.assert_allclose(x.numpy() / 2, ds.images.reshape(6, 784))


def test_sample_is_a_copy(tmp_path):
    write_split(tmp_path, "train", n=2)
    ds = MNIST(tmp_path)
    x, _ = ds[0]
    x.array[:] = 5.0
    assert ds.images.max() <= 1.0


# ---------------------------------------------------------------------------------------------- real MNIST

REAL = mnist_dir()
needs_mnist = pytest.mark.skipif(REAL is None, reason="real MNIST not found ($DEEPGRAD_MNIST or ../shared/data/mnist)")


@pytest.fixture(scope="module")
def real_train():
    return MNIST(REAL, train=True)


@needs_mnist
def test_real_mnist_train(real_train):
    ds = real_train
    assert ds.images.shape == (60000, 1, 28, 28) and ds.images.dtype == np.float32
    assert ds.labels.shape == (60000,) and ds.labels.dtype == np.int64
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    scaled = ds.images[:1000] * 255
    np.testing.assert_allclose(scaled, np.round(scaled), atol=1e-4)  # multiples of 1/255
    counts = np.bincount(ds.labels, minlength=10)
    assert counts.sum() == 60000
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert ds.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


@needs_mnist
def test_real_mnist_test_split():
    ds = MNIST(REAL, train=False, flatten=True)
    assert ds.images.shape == (10000, 784)
    counts = np.bincount(ds.labels, minlength=10)
    assert counts.sum() == 10000
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@needs_mnist
def test_real_mnist_is_not_fashion_mnist():
    with pytest.raises(DatasetFormatError, match="these are the MNIST files, not FashionMNIST"):
        FashionMNIST(REAL, train=False)


@needs_mnist
def test_real_mnist_matches_the_hard_coded_checksums():
    for resource in MNIST.resources:
        assert _digest(REAL / f"{resource.name}.gz", resource) == resource.digest, resource.name
    # The decompressed content is the well-known release: its MD5s are the published ones.
    known_md5 = {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    }
    for name, md5 in known_md5.items():
        assert hashlib.md5(gzip.decompress((REAL / f"{name}.gz").read_bytes())).hexdigest() == md5


@needs_mnist
def test_real_mnist_loader_epoch(real_train):
    loader = DataLoader(real_train, batch_size=128, shuffle=True, seed=0)
    assert len(loader) == 469
    total = 0
    for x, y in loader:
        assert x.dtype == np.float32 and x.shape[1:] == (1, 28, 28)
        total += len(y)
    assert total == 60000


# ---------------------------------------------------------------------------------------------- download


def _serve_all(served, gz_mutator=None):
    """Write all four tiny files (gzipped) into the served directory; return the decompressed contents."""
    contents = {}
    for prefix, n in (("train", 6), ("t10k", 3)):
        images, labels = tiny_set(n, seed=n)
        contents[f"{prefix}-images-idx3-ubyte"] = idx_bytes(images)
        contents[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(labels)
    for name, content in contents.items():
        data = gzip.compress(content)
        (served / f"{name}.gz").write_bytes(gz_mutator(name, data) if gz_mutator else data)
    return contents


def _tiny_class(base, contents, served=None, algorithm="sha256"):
    """A subclass whose checksums are those of the tiny files: of the content, or of the served .gz bytes."""
    resources = []
    for name, content in contents.items():
        data = content if served is None else (served / f"{name}.gz").read_bytes()
        resources.append(_Resource(name, algorithm, hashlib.new(algorithm, data).hexdigest(), served is None))
    return type(f"Tiny{base.__name__}", (base,), {"resources": tuple(resources)})


def test_download_tries_mirrors_in_order_and_verifies(tmp_path, server):
    url, served = server
    contents = _serve_all(served)
    Tiny = _tiny_class(MNIST, contents)
    root = tmp_path / "cache"
    ds = Tiny(root, train=True, download=True, mirrors=[url + "missing/", url])
    assert len(ds) == 6 and ds.images_file == root / "mnist" / "train-images-idx3-ubyte.gz"
    assert sorted(p.name for p in (root / "mnist").iterdir()) == sorted(f"{n}.gz" for n in NAMES)  # no .part files
    assert len(Tiny(root, train=False)) == 3  # the test split came with it
    # Files already there are not fetched again (the server is gone for this one).
    assert len(Tiny(root, train=True, download=True, mirrors=["http://127.0.0.1:9/"])) == 6


def test_download_fashion_md5_of_the_gz_file(tmp_path, server):
    url, served = server
    contents = _serve_all(served)
    Tiny = _tiny_class(FashionMNIST, contents, served=served, algorithm="md5")
    ds = Tiny(tmp_path / "cache", train=False, download=True, mirrors=[url])
    assert len(ds) == 3 and ds.images_file.parent == tmp_path / "cache" / "fashion-mnist"


def test_download_checksum_mismatch(tmp_path, server):
    url, served = server
    _serve_all(served)
    root = tmp_path / "cache"
    with pytest.raises(DownloadError) as info:
        MNIST(root, download=True, mirrors=[url])  # the real checksums cannot match the tiny files
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message and "sha256 checksum mismatch" in message
    assert "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db" in message
    assert isinstance(info.value, OSError) and not isinstance(info.value, UsageError)
    assert list((root / "mnist").iterdir()) == []  # nothing written under the real name, no partial files


def test_download_rejects_a_truncated_gzip(tmp_path, server):
    url, served = server
    contents = _serve_all(served, gz_mutator=lambda name, data: data[: len(data) // 2] if "images" in name else data)
    Tiny = _tiny_class(MNIST, contents)
    with pytest.raises(DownloadError, match="corrupt or truncated gzip"):
        Tiny(tmp_path / "cache", download=True, mirrors=[url])
    assert not any(p.name.startswith("train-images") for p in (tmp_path / "cache" / "mnist").iterdir())


def test_download_unreachable_mirrors_are_all_listed(tmp_path, server):
    url, _ = server
    with pytest.raises(DownloadError) as info:
        MNIST(tmp_path, download=True, mirrors=["http://127.0.0.1:9/", url + "nothing-here/"])
    message = str(info.value)
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in message
    assert f"{url}nothing-here/train-images-idx3-ubyte.gz: HTTP 404" in message
    assert os.listdir(tmp_path / "mnist") == []


def test_download_cut_connection_leaves_no_file(tmp_path, server):
    url, served = server
    Tiny = _tiny_class(MNIST, _serve_all(served))
    with pytest.raises(
        DownloadError, match=r"cut/train-images-idx3-ubyte.gz: connection closed after 100 of 100000 bytes"
    ):
        Tiny(tmp_path, download=True, mirrors=[url + "cut/"])
    assert os.listdir(tmp_path / "mnist") == []
    # The next mirror in the list is tried after a failure.
    assert len(Tiny(tmp_path, download=True, mirrors=[url + "cut/", url])) == 6


# ---------------------------------------------------------------------------------------------- issue 9: odd files


@pytest.mark.parametrize("kind", ["a directory", "a FIFO", "a symbolic link loop", "a character device"])
def test_something_that_is_not_a_regular_file_is_said_to_be_so(tmp_path, kind):
    import signal

    write_split(tmp_path, "train", n=3, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.unlink()
    if kind == "a directory":
        path.mkdir()
    elif kind == "a FIFO":
        os.mkfifo(path)
    elif kind == "a symbolic link loop":
        os.symlink(path.name, path)
    else:
        os.symlink("/dev/zero", path)

    def hang(*_):
        raise AssertionError("opened a FIFO or read /dev/zero")

    signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        with pytest.raises(DatasetFormatError, match=rf"{path} is not a regular file \({kind}\)"):
            MNIST(tmp_path)
        with pytest.raises(DatasetFormatError, match=rf"{path}: cannot read, it is not a regular file \({kind}\)"):
            read_idx(path)
    finally:
        signal.alarm(0)


def test_a_regular_file_beside_an_odd_one_is_used(tmp_path):
    images, _ = write_split(tmp_path, "train", n=3, gz=True)
    (tmp_path / "train-images-idx3-ubyte").mkdir()  # a directory under the plain name, the .gz file beside it
    np.testing.assert_array_equal(MNIST(tmp_path, flatten=True).images, images.reshape(3, -1) / np.float32(255))


def _gzip_bomb(path, header, megabytes):
    """A .gz file of ``header`` followed by ``megabytes`` MB of zeros, written without holding them in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    chunk = bytes(1 << 20)
    with open(path, "wb") as out:
        out.write(compressor.compress(header))
        for _ in range(megabytes):
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())


def test_a_gzip_bomb_is_not_decompressed_beyond_what_the_header_announces(tmp_path):
    import tracemalloc

    write_split(tmp_path, "train", n=3)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    _gzip_bomb(path, struct.pack(">II", LABELS_MAGIC, 3), megabytes=300)
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DatasetFormatError, match=rf"{path}: has trailing bytes: the header announces shape \(3,\)"):
            MNIST(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # 300 MB when decompressed whole


def test_a_header_announcing_more_than_a_gzip_file_can_hold(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", IMAGES_MAGIC, 4_000_000_000, 28, 28)))
    with pytest.raises(DatasetFormatError, match=r"truncated: .*the file holds at most \d+ bytes"):
        read_idx(path)


def test_empty_sets_are_one_line_before_training(tmp_path, capsys):
    from deepgrad.cli import main

    write_split(tmp_path, "train", images=np.zeros((0, 28, 28), np.uint8), labels=np.zeros(0, np.uint8))
    write_split(tmp_path, "t10k", n=3)
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--quiet", "--plots", "none"]) == 2
    out, err = capsys.readouterr()
    assert "training" not in out and len(err.strip().splitlines()) == 1
    assert "the training set of --dataset mnist has no samples" in err and "holds 0 images" in err
    write_split(tmp_path, "train", n=3)
    write_split(tmp_path, "t10k", images=np.zeros((0, 28, 28), np.uint8), labels=np.zeros(0, np.uint8))
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--quiet", "--plots", "none"]) == 2
    assert "the test set of --dataset mnist has no samples" in capsys.readouterr().err

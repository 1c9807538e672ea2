"""CIFAR-10 (binary version): record parsing, file search, the archive, damaged files, pickled files, download."""

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

from deepgrad.cli import UsageError
from deepgrad.data import (
    CIFAR10,
    DataLoader,
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    cifar,
    parse_cifar_batch,
    read_cifar_batch,
)

TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch):
    """A download a test forgets to point at the local server hits a closed local port, never the internet."""
    monkeypatch.setattr(CIFAR10, "mirrors", ("http://127.0.0.1:9/",))


def records(n, seed=0, labels=None):
    """``n`` CIFAR-10 binary records (label byte + 3072 pixel bytes, C x H x W) and the arrays they hold."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8) if labels is None else np.asarray(labels, np.uint8)
    data = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1).tobytes()
    return data, images, labels


def write_batches(directory, n=3, train=True, test=True):
    """Write the five training batches (n records each, seeds 1..5) and the test batch (seed 0)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    names = (TRAIN if train else []) + (["test_batch.bin"] if test else [])
    for name in names:
        seed = 0 if name == "test_batch.bin" else int(name[11])
        data, images, labels = records(n, seed)
        (directory / name).write_bytes(data)
        written[name] = (images, labels)
    return written


def archive_bytes(members, folder="cifar-10-batches-bin"):
    """A .tar.gz holding ``members`` (name -> bytes) under ``folder``/, as cifar-10-binary.tar.gz does."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def all_members(n=3):
    return {
        name: records(n, 0 if name == "test_batch.bin" else int(name[11]))[0] for name in [*TRAIN, "test_batch.bin"]
    }


def one_line(error):
    message = str(error.value)
    assert "\n" not in message
    assert " --" not in message  # library errors name no CLI flags
    return message


# ---------------------------------------------------------------------------------------------- parsing


def test_parse_cifar_batch_splits_label_and_chw_pixels():
    data, images, labels = records(4, labels=[0, 9, 3, 3])
    parsed_images, parsed_labels = parse_cifar_batch(data)
    assert parsed_images.shape == (4, 3, 32, 32) and parsed_images.dtype == np.uint8
    np.testing.assert_array_equal(parsed_images, images)
    assert parsed_labels.tolist() == [0, 9, 3, 3]
    # Byte 1 of a record is the red value of the top-left pixel, byte 1 + 1024 its green, byte 1 + 2048 its blue.
    raw = np.frombuffer(data, np.uint8)
    assert parsed_images[1, :, 0, 0].tolist() == [raw[3073 + 1], raw[3073 + 1025], raw[3073 + 2049]]
    assert parsed_images[0, 0, 0, 5] == raw[1 + 5] and parsed_images[0, 0, 2, 0] == raw[1 + 64]


def test_parse_errors_name_the_file():
    data, _, _ = records(2)
    with pytest.raises(DatasetFormatError, match=r"x\.bin: 6145 bytes is not a whole number of 3073-byte records"):
        parse_cifar_batch(data[:-1], "x.bin")
    with pytest.raises(DatasetFormatError, match="empty"):
        parse_cifar_batch(b"", "x.bin")
    bad, _, _ = records(3, labels=[1, 10, 2])
    with pytest.raises(DatasetFormatError, match=r"x\.bin: record 1 has label 10, outside 0\.\.9") as error:
        parse_cifar_batch(bad, "x.bin")
    one_line(error)


def test_read_cifar_batch(tmp_path):
    data, images, labels = records(2)
    (tmp_path / "b.bin").write_bytes(data)
    got_images, got_labels = read_cifar_batch(tmp_path / "b.bin")
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    with pytest.raises(DatasetFormatError, match="cannot read"):
        read_cifar_batch(tmp_path)  # a directory


# ---------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("layout", ["cifar10/cifar-10-batches-bin", "cifar10", "cifar-10-batches-bin", "."])
def test_loads_every_layout(tmp_path, layout):
    written = write_batches(tmp_path / layout, n=3)
    train = CIFAR10(tmp_path, train=True)
    assert len(train) == 15 and train.images.shape == (15, 3, 32, 32) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64
    expected = np.concatenate([written[name][0] for name in TRAIN])
    np.testing.assert_array_equal(train.images, expected)
    np.testing.assert_array_equal(train.labels, np.concatenate([written[name][1] for name in TRAIN]))
    test = CIFAR10(tmp_path, train=False)
    assert len(test) == 3
    np.testing.assert_array_equal(test.images, written["test_batch.bin"][0])
    assert train.images.flags.writeable and train.images.flags.c_contiguous


def test_samples_and_batches_are_float_in_unit_range(tmp_path):
    write_batches(tmp_path, n=4)
    ds = CIFAR10(tmp_path, train=False)
    image, label = ds[2]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32
    np.testing.assert_array_equal(image.numpy(), ds.images[2] / np.float32(255))
    assert label == int(ds.labels[2]) and isinstance(label, int)
    assert ds.supports_gather
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 3, 32, 32) and xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), ds.images.astype(np.float32) / 255)
    assert "CIFAR10(test, 4 samples" in repr(ds)
    with pytest.raises(IndexError):
        ds[4]


def test_transforms_switch_to_the_per_sample_path(tmp_path):
    write_batches(tmp_path, n=2)
    ds = CIFAR10(tmp_path, train=False, transform=lambda x: x * 2, target_transform=lambda y: y + 100)
    assert not ds.supports_gather
    xb, yb = next(iter(DataLoader(ds, batch_size=2)))
    np.testing.assert_allclose(xb.numpy(), ds.images.astype(np.float32) / 255 * 2)
    assert yb.tolist() == (ds.labels + 100).tolist()


def test_reads_the_archive_in_place(tmp_path):
    members = all_members(n=2)
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(archive_bytes(members))
    train = CIFAR10(tmp_path)
    assert len(train) == 10
    np.testing.assert_array_equal(train.images[:2], parse_cifar_batch(members["data_batch_1.bin"])[0])
    assert not (tmp_path / "cifar-10-batches-bin").exists()  # nothing extracted
    by_path = CIFAR10(tmp_path / "cifar-10-binary.tar.gz", train=False)  # root may be the archive itself
    np.testing.assert_array_equal(by_path.images, parse_cifar_batch(members["test_batch.bin"])[0])


def test_archive_in_the_cifar10_folder(tmp_path):
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar-10-binary.tar.gz").write_bytes(archive_bytes(all_members(n=1)))
    assert len(CIFAR10(tmp_path, train=False)) == 1


# ---------------------------------------------------------------------------------------------- damaged files


def test_truncated_archive(tmp_path):
    data = archive_bytes(all_members(n=2))
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match=r"cifar-10-binary\.tar\.gz: corrupt or truncated archive") as error:
        CIFAR10(tmp_path)
    one_line(error)
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(b"not an archive at all")
    with pytest.raises(DatasetFormatError, match="corrupt or truncated archive"):
        CIFAR10(tmp_path)


def test_archive_with_its_gzip_trailer_cut(tmp_path):
    # The last 10 bytes: gzip's 8-byte trailer (CRC-32, length) and the end of the deflate stream; the tar end
    # marker comes earlier, so only reading the gzip stream to its end finds the cut.
    data = archive_bytes(all_members(n=2))
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(data[:-10])
    with pytest.raises(DatasetFormatError, match="corrupt or truncated archive") as error:
        CIFAR10(tmp_path, train=False)
    assert one_line(error).startswith(f"{path}: ")


def test_archive_with_a_flipped_byte_inside_a_member(tmp_path):
    # Stored (level-0) deflate blocks hold the tar bytes verbatim, so flipping one pixel byte of data_batch_2.bin in
    # the .gz changes that byte only: the records still parse, and gzip's CRC-32 is the only thing that can see it.
    members = all_members(n=2)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=0) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    data = bytearray(buffer.getvalue())
    pixels = members["data_batch_2.bin"][1:3073]  # record 0's pixels, random bytes: found once in the archive
    at = data.index(pixels) + 100
    assert data.count(pixels) == 1
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(bytes(data))
    assert len(CIFAR10(tmp_path)) == 10  # intact, the stored archive loads
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match=r"corrupt or truncated archive \(CRC check failed") as error:
        CIFAR10(tmp_path)
    assert one_line(error).startswith(f"{path}: ")
    with pytest.raises(DatasetFormatError, match="CRC check failed"):
        CIFAR10(tmp_path, train=False)  # the damaged member is not one the test set reads: still checked


def test_archive_missing_a_batch(tmp_path):
    members = all_members(n=1)
    del members["data_batch_4.bin"]
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(archive_bytes(members))
    assert len(CIFAR10(tmp_path, train=False)) == 1
    with pytest.raises(
        DatasetFormatError, match=r"cifar-10-binary\.tar\.gz: no cifar-10-batches-bin/data_batch_4\.bin"
    ):
        CIFAR10(tmp_path)


def test_damaged_batch_inside_the_archive_names_archive_and_member(tmp_path):
    members = all_members(n=1)
    members["data_batch_2.bin"] = members["data_batch_2.bin"][:-7]
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(archive_bytes(members))
    with pytest.raises(DatasetFormatError, match=r"cifar-10-binary\.tar\.gz:data_batch_2\.bin: 3066 bytes"):
        CIFAR10(tmp_path)


def test_wrong_record_size_and_bad_label_name_the_file(tmp_path):
    write_batches(tmp_path, n=2)
    path = tmp_path / "data_batch_3.bin"
    path.write_bytes(path.read_bytes() + b"\x00" * 10)
    with pytest.raises(DatasetFormatError, match=r"data_batch_3\.bin: 6156 bytes is not a whole number") as error:
        CIFAR10(tmp_path)
    assert str(path) in one_line(error)
    bad, _, _ = records(2, labels=[4, 200])
    (tmp_path / "test_batch.bin").write_bytes(bad)
    with pytest.raises(DatasetFormatError, match=r"test_batch\.bin: record 1 has label 200, outside 0\.\.9"):
        CIFAR10(tmp_path, train=False)


def test_missing_batch(tmp_path):
    write_batches(tmp_path, n=1)
    (tmp_path / "data_batch_3.bin").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"data_batch_3\.bin: missing") as error:
        CIFAR10(tmp_path)
    message = one_line(error)
    assert "data_batch_1.bin, data_batch_2.bin, data_batch_4.bin, data_batch_5.bin" in message
    assert len(CIFAR10(tmp_path, train=False)) == 1  # the test set is complete


def test_not_found_lists_the_places(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        CIFAR10(tmp_path / "nowhere")
    message = one_line(error)
    assert "CIFAR-10 training files not found" in message and "cifar-10-binary.tar.gz" in message
    assert str(tmp_path / "nowhere" / "cifar10" / "cifar-10-batches-bin") in message and "download=True" in message
    assert isinstance(error.value, FileNotFoundError) and not isinstance(error.value, UsageError)
    with pytest.raises(DatasetNotFoundError, match="one batch file; pass the directory"):
        write_batches(tmp_path, n=1)
        CIFAR10(tmp_path / "test_batch.bin")


def test_error_types_are_builtin():
    assert issubclass(DatasetFormatError, ValueError) and issubclass(DatasetNotFoundError, FileNotFoundError)


# ---------------------------------------------------------------------------------------------- the pickled version


def _make_pickled_folder(root):
    (root / "cifar10").mkdir()
    (root / "cifar10" / "test_batch").write_bytes(b"\x80\x02")


@pytest.mark.parametrize(
    ("make", "train"),
    [
        (lambda root: (root / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b..."), True),
        (lambda root: (root / "cifar-10-batches-py").mkdir(), True),
        (lambda root: (root / "data_batch_1").write_bytes(b"\x80\x02}q\x00."), True),
        (_make_pickled_folder, False),
    ],
    ids=["python-archive", "python-folder", "pickled-batch", "pickled-test-batch"],
)
def test_pickled_python_version_is_refused_with_the_binary_name(tmp_path, make, train):
    make(tmp_path)
    with pytest.raises(DatasetNotFoundError) as error:
        CIFAR10(tmp_path, train=train)
    message = one_line(error)
    assert "pickled" in message and "never unpickles" in message and "cifar-10-binary.tar.gz" in message


def test_pickled_root_file_and_pickled_bin_and_python_archive(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"")
    with pytest.raises(DatasetNotFoundError, match="pickled"):
        CIFAR10(tmp_path / "cifar-10-python.tar.gz")
    # A pickled batch renamed to .bin: the size check fails and the message says what it looks like.
    with pytest.raises(DatasetFormatError, match="pickled.*cifar-10-binary.tar.gz"):
        parse_cifar_batch(b"\x80\x02}q\x00(X\x04\x00\x00\x00data", "data_batch_1.bin")
    # The Python archive under the binary archive's name: its members are cifar-10-batches-py/...
    (tmp_path / "cifar-10-binary.tar.gz").write_bytes(archive_bytes({"data_batch_1": b"\x80"}, "cifar-10-batches-py"))
    with pytest.raises(DatasetFormatError, match="pickled"):
        CIFAR10(tmp_path / "cifar-10-binary.tar.gz")


# ---------------------------------------------------------------------------------------------- download


def test_published_checksum():
    assert cifar.ARCHIVE_MD5 == "c32a1d4ab5d03f1284b67883e8d87530"  # the CIFAR page's MD5 of cifar-10-binary.tar.gz


def test_download_verifies_moves_in_and_extracts(tmp_path, server, monkeypatch):
    url, served = server
    members = all_members(n=2)
    data = archive_bytes(members)
    (served / "cifar-10-binary.tar.gz").write_bytes(data)
    monkeypatch.setattr(cifar, "ARCHIVE_MD5", hashlib.md5(data).hexdigest())
    root = tmp_path / "data"
    ds = CIFAR10(root, train=False, download=True, mirrors=["http://127.0.0.1:9/", url])
    np.testing.assert_array_equal(ds.images, parse_cifar_batch(members["test_batch.bin"])[0])
    target = root / "cifar10"
    assert (target / "cifar-10-binary.tar.gz").read_bytes() == data
    for name, content in members.items():
        assert (target / "cifar-10-batches-bin" / name).read_bytes() == content
    assert ds.source == target / "cifar-10-batches-bin"
    assert not [p for p in target.rglob("*") if p.name.endswith(".part")]
    # Already there: no second download (the server is gone from the mirror list).
    assert len(CIFAR10(root, download=True, mirrors=["http://127.0.0.1:9/"])) == 10


def test_download_checksum_mismatch_leaves_nothing(tmp_path, server):
    url, served = server
    (served / "cifar-10-binary.tar.gz").write_bytes(archive_bytes(all_members(n=1)))
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="md5 checksum mismatch") as error:
        CIFAR10(root, download=True, mirrors=[url])
    message = one_line(error)
    assert "expected c32a1d4ab5d03f1284b67883e8d87530" in message
    assert list((root / "cifar10").iterdir()) == []


def test_download_unreachable(tmp_path):
    with pytest.raises(DownloadError, match=r"could not download cifar-10-binary\.tar\.gz") as error:
        CIFAR10(tmp_path, download=True)
    assert isinstance(error.value, OSError)


@pytest.mark.parametrize("in_archive", [False, True])
def test_batch_cut_at_a_record_boundary_is_refused(tmp_path, in_archive):
    """A training batch with whole records missing has a valid size; the other batches show it is short."""
    members = all_members(n=3)
    members["data_batch_4.bin"] = members["data_batch_4.bin"][: 2 * 3073]
    if in_archive:
        (tmp_path / "cifar-10-binary.tar.gz").write_bytes(archive_bytes(members))
        where = r"cifar-10-binary\.tar\.gz:data_batch_4\.bin"
    else:
        for name, data in members.items():
            (tmp_path / name).write_bytes(data)
        where = r"data_batch_4\.bin"
    with pytest.raises(DatasetFormatError, match=where + r": 2 records where the other training batches have up to 3"):
        CIFAR10(tmp_path)
    assert len(CIFAR10(tmp_path, train=False)) == 3  # the test set has one batch, and it is whole

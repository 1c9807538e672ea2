"""CIFAR-10 from its binary version (``cifar-10-binary.tar.gz``), validated, with an optional verified download.

The binary format (Krizhevsky's): each batch file is a run of 3073-byte records, one label byte (0..9)
followed by 3072 pixel bytes: the 1024 red values of the 32x32 image in row-major order, then green,
then blue, i.e. C x H x W. The training set is ``data_batch_1.bin`` .. ``data_batch_5.bin`` (10,000
records each), the test set ``test_batch.bin``; the archive holds them under ``cifar-10-batches-bin/``.

The dataset's Python version (``cifar-10-python.tar.gz``, ``cifar-10-batches-py/data_batch_1``) is
pickled, and deepgrad never unpickles: pointed at it, the reader says so and names the binary archive.

Where the files are looked for, for ``CIFAR10(root)``: ``root/cifar10/cifar-10-batches-bin``,
``root/cifar10``, ``root/cifar-10-batches-bin`` and ``root`` (extracted batches), then
``cifar-10-binary.tar.gz`` in ``root/cifar10`` and ``root`` (read in place, nothing is extracted).
``root`` may also be the archive itself. ``download=True`` fetches the archive into ``root/cifar10``,
checks its MD5 (``c32a1d4ab5d03f1284b67883e8d87530``, as published on the CIFAR page; third parties
record its size as 170,052,171 bytes), moves it into place atomically and extracts the six batch files
(each written to a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.data.dataset import Dataset, _check_index

# The error types are the data readers' (deepgrad.errors, built-in bases); imported in this one place so a change of the
# error classes changes one line here.
from deepgrad.data.mnist import DatasetFormatError, DatasetNotFoundError, DownloadError, default_data_dir
from deepgrad.tensor import Tensor

logger = logging.getLogger(__name__)

LABEL_BYTES = 1
IMAGE_SHAPE = (3, 32, 32)
IMAGE_BYTES = 3 * 32 * 32
RECORD_BYTES = LABEL_BYTES + IMAGE_BYTES
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
ARCHIVE_NAME = "cifar-10-binary.tar.gz"
ARCHIVE_FOLDER = "cifar-10-batches-bin"
ARCHIVE_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
_PICKLED_HINT = (
    f"that is CIFAR-10's Python version, which is pickled, and deepgrad never unpickles; get the binary "
    f"version {ARCHIVE_NAME} from {CIFAR_PAGE} (its batches are data_batch_1.bin .. data_batch_5.bin and "
    "test_batch.bin)"
)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def parse_cifar_batch(data: bytes, name: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Split the bytes of one binary batch into images (N, 3, 32, 32) uint8 and labels (N,) uint8.

    The arrays are read-only views of ``data``; the error names ``name`` and what is wrong.

    >>> images, labels = parse_cifar_batch(bytes([7]) + bytes(3072))
    >>> images.shape, labels.tolist()
    ((1, 3, 32, 32), [7])
    """
    size = len(data)
    if size == 0:
        raise DatasetFormatError(f"{name}: empty file, expected 3073-byte CIFAR-10 records")
    if size % RECORD_BYTES:
        hint = f"; {_PICKLED_HINT}" if data[:1] == b"\x80" else ""
        raise DatasetFormatError(
            f"{name}: {size} bytes is not a whole number of {RECORD_BYTES}-byte records (1 label byte + "
            f"{IMAGE_BYTES} pixel bytes): truncated, or not a CIFAR-10 binary batch{hint}"
        )
    records = np.frombuffer(data, np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0]
    bad = np.flatnonzero(labels >= len(CLASSES))
    if bad.size:
        raise DatasetFormatError(
            f"{name}: record {int(bad[0])} has label {int(labels[bad[0]])}, outside 0..{len(CLASSES) - 1} "
            "(damaged file, or not CIFAR-10: CIFAR-100's binary records have two label bytes)"
        )
    return records[:, LABEL_BYTES:].reshape(-1, *IMAGE_SHAPE), labels


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one binary batch file (``data_batch_1.bin``, ...) into images and labels; errors name the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DatasetFormatError(f"{path}: cannot read ({error.strerror or error})") from None
    return parse_cifar_batch(data, str(path))


def _read_archive(archive: Path, names: Sequence[str]) -> list[bytes]:
    """The content of the batch files ``names`` inside a ``cifar-10-binary.tar.gz``, in that order."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if "cifar-10-batches-py" in member.name:
                    raise DatasetFormatError(f"{archive}: {_PICKLED_HINT}")
                if base in names and member.isfile():
                    handle = tar.extractfile(member)  # bytes only: nothing is written from the archive's paths
                    found[base] = handle.read() if handle is not None else b""
            # The loop stops at the tar end marker, before gzip's trailer (CRC-32 and length of the data), which is
            # only checked when the stream is read to its end: without this, a cut tail or a flipped byte loads.
            while tar.fileobj is not None and tar.fileobj.read(1 << 20):
                pass
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        # EOFError: the gzip stream ends early (truncated download); OSError: not gzip or a CRC-32 / length
        # mismatch in the trailer (BadGzipFile), or unreadable
        raise DatasetFormatError(f"{archive}: corrupt or truncated archive ({error})") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise DatasetFormatError(
            f"{archive}: no {ARCHIVE_FOLDER}/{missing[0]} in the archive; is this {ARCHIVE_NAME} from {CIFAR_PAGE}?"
        )
    return [found[n] for n in names]


def _check_equal_batches(source: Path, names: Sequence[str], counts: Sequence[int]) -> None:
    """The training batches hold the same number of records (10,000 each in the published files): a batch
    with fewer than the others was cut at a record boundary, which its size alone cannot show."""
    most = max(counts)
    for name, count in zip(names, counts):
        if count != most:
            where = source / name if source.is_dir() else f"{source}:{name}"
            raise DatasetFormatError(
                f"{where}: {count:,} records where the other training batches have up to {most:,} "
                "(truncated or damaged file: CIFAR-10's batches hold 10,000 records each)"
            )


def _looks_pickled(path: Path) -> bool:
    """A file or directory of CIFAR-10's pickled Python version (by name)."""
    name = path.name
    return name in ("cifar-10-python.tar.gz", "cifar-10-batches-py") or (
        name.startswith(("data_batch_", "test_batch")) and path.suffix != ".bin"
    )


class CIFAR10(Dataset):
    """CIFAR-10: 50,000 training / 10,000 test colour images of 32x32 in ten classes, from the binary version.

    ``self.images`` holds the images as stored, uint8 of shape (N, 3, 32, 32) (150 MB for the training
    set, not 600 MB of floats), ``self.labels`` the labels as int64. Samples and `DataLoader` batches are
    ``(image, label)`` with ``image`` float32 in [0, 1] (x / 255, as MNIST's and torchvision's
    ``ToTensor``), converted per batch. ``transform`` (image Tensor -> anything) and ``target_transform``
    (int -> anything) run per sample, PyTorch-style, and switch the loader to its per-sample path.

    >>> ds = CIFAR10("/data", train=False)  # doctest: +SKIP
    >>> ds.images.shape, ds.images.dtype, ds.labels.dtype  # doctest: +SKIP
    ((10000, 3, 32, 32), dtype('uint8'), dtype('int64'))
    """

    folder = "cifar10"
    mirrors: Sequence[str] = ("https://www.cs.toronto.edu/~kriz/",)
    classes: Sequence[str] = CLASSES

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        mirrors: Sequence[str] | None = None,
    ) -> None:
        self.root = default_data_dir() if root is None else Path(root).expanduser()
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        if mirrors is not None:
            self.mirrors = (mirrors,) if isinstance(mirrors, str) else tuple(mirrors)
        names = TRAIN_FILES if self.train else TEST_FILES
        source = self._find(names)
        if source is None and download:
            self.download()
            source = self._find(names)
        if source is None:
            self._raise_not_found(names)
        self.source = source
        self.images, self.labels = self._load(source, names)

    # ------------------------------------------------------------------ finding and loading

    def search_dirs(self) -> list[Path]:
        """The directories searched for extracted batch files, in order."""
        base = self.root / self.folder
        return [base / ARCHIVE_FOLDER, base, self.root / ARCHIVE_FOLDER, self.root]

    def archive_paths(self) -> list[Path]:
        """Where ``cifar-10-binary.tar.gz`` is looked for when no extracted batches are found."""
        return [self.root / self.folder / ARCHIVE_NAME, self.root / ARCHIVE_NAME]

    def _find(self, names: Sequence[str]) -> Path | None:
        """The directory holding the split's batch files, or the archive to read them from."""
        if self.root.is_file():
            if _looks_pickled(self.root):
                raise DatasetNotFoundError(f"{self.root}: {_PICKLED_HINT}")
            if self.root.suffix == ".bin":
                raise DatasetNotFoundError(
                    f"{self.root}: is one batch file; pass the directory holding all of {', '.join(names)} as root"
                )
            return self.root  # the archive itself
        for directory in self.search_dirs():
            present = [n for n in names if (directory / n).is_file()]
            if len(present) == len(names):
                return directory
            if present:
                missing = next(n for n in names if n not in present)
                raise DatasetNotFoundError(
                    f"{directory / missing}: missing; the CIFAR-10 {self._split()} set is "
                    f"{', '.join(names)} and {directory} holds only {', '.join(present)}"
                )
        return next((p for p in self.archive_paths() if p.is_file()), None)

    def _split(self) -> str:
        return "training" if self.train else "test"

    def _raise_not_found(self, names: Sequence[str]) -> None:
        places = [*self.search_dirs(), *self.archive_paths()]
        for directory in self.search_dirs():
            candidates = [directory / "cifar-10-python.tar.gz", directory / "cifar-10-batches-py"]
            candidates += [directory / n.removesuffix(".bin") for n in names]
            pickled = [p for p in candidates if p.exists()]
            if pickled:
                raise DatasetNotFoundError(f"{pickled[0]}: {_PICKLED_HINT}")
        raise DatasetNotFoundError(
            f"CIFAR-10 {self._split()} files not found: looked for {', '.join(names)} in "
            f"{'; '.join(str(d) for d in self.search_dirs())} and for {ARCHIVE_NAME} as "
            f"{' or '.join(str(p) for p in places[len(self.search_dirs()) :])}. Pass the directory holding "
            f"them as root (or set DEEPGRAD_DATA), or download them into {self.root / self.folder} with download=True."
        )

    def _load(self, source: Path, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if source.is_dir():
            parts = [read_cifar_batch(source / n) for n in names]
        else:
            parts = [parse_cifar_batch(data, f"{source}:{n}") for n, data in zip(names, _read_archive(source, names))]
        _check_equal_batches(source, names, [len(p[1]) for p in parts])
        images = np.concatenate([p[0] for p in parts])  # a fresh, writable, contiguous copy
        labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
        return images, labels

    # ------------------------------------------------------------------ Dataset protocol

    @property
    def supports_gather(self) -> bool:  # type: ignore[override]
        return self.transform is None and self.target_transform is None

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = _check_index(index, len(self), type(self).__name__)
        image: Any = Tensor._make(_to_float(self.images[index]), False, None)
        label: Any = int(self.labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(images[indices] / 255 as float32, labels[indices])``: one fancy index each (no transforms)."""
        return _to_float(self.images[indices]), self.labels[indices]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        shape = self.images.shape[1:]
        return f"{type(self).__name__}({split}, {len(self)} samples, images {shape}, from {self.source})"

    # ------------------------------------------------------------------ download

    def download(self) -> None:
        """Fetch ``cifar-10-binary.tar.gz`` into ``root/cifar10`` (MD5-checked, atomic) and extract the batches."""
        target = self.root / self.folder
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DownloadError(f"cannot create the data directory {target}: {error.strerror or error}") from None
        archive = target / ARCHIVE_NAME
        if not archive.is_file():
            _fetch([m.rstrip("/") + "/" + ARCHIVE_NAME for m in self.mirrors], archive, ARCHIVE_MD5)
        batches = target / ARCHIVE_FOLDER
        batches.mkdir(exist_ok=True)
        names = [*TRAIN_FILES, *TEST_FILES]
        for name, data in zip(names, _read_archive(archive, names)):
            _write_atomically(batches / name, data)


def _to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1]: x / 255, the exact division torchvision's ToTensor does."""
    out = images.astype(np.float32)
    out /= 255.0
    return out


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _fetch(urls: Sequence[str], final: Path, md5: str) -> None:
    """Download the first URL that answers with the right MD5 into ``final``, via a temporary file."""
    # Imported here: the HTTP stack costs ~30 ms at import, and only downloads need it.
    import http.client
    import urllib.error
    import urllib.request

    attempts = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
        try:
            logger.info("downloading %s -> %s", url, final)
            digest, received = hashlib.md5(usedforsecurity=False), 0
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                announced = response.headers.get("Content-Length")
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
            if announced is not None and announced.isdigit() and received != int(announced):
                attempts.append(f"{url}: connection closed after {received} of {announced} bytes")
            elif digest.hexdigest() != md5:
                attempts.append(f"{url}: md5 checksum mismatch (got {digest.hexdigest()}, expected {md5})")
            else:
                os.replace(tmp_name, final)
                return
        except urllib.error.HTTPError as error:
            attempts.append(f"{url}: HTTP {error.code} {error.reason}")
        except (OSError, ValueError, http.client.HTTPException) as error:
            # URLError and timeouts are OSErrors; ValueError: a malformed URL; IncompleteRead: a cut connection
            attempts.append(f"{url}: {getattr(error, 'reason', None) or error}")
        finally:
            Path(tmp_name).unlink(missing_ok=True)  # gone after os.replace; otherwise drop the partial file
    raise DownloadError(
        f"could not download {final.name} into {final.parent}: " + "; ".join(attempts or ["no mirrors configured"])
    )

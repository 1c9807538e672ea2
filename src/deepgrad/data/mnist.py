"""MNIST and Fashion-MNIST from the standard IDX files, with validation and an optional verified download.

The IDX format (LeCun's): a 4-byte big-endian magic number ``0x0000TTDD`` (TT = element type, 0x08 for
unsigned bytes; DD = number of dimensions), then DD big-endian uint32 sizes, then the elements in C order.
Image files are ``0x00000803`` (count, rows, cols), label files ``0x00000801`` (count).

Where the files are looked for, for ``MNIST(root)``: ``root/mnist``, ``root`` and ``root/MNIST/raw``
(torchvision's layout); each file may be gzipped (``train-images-idx3-ubyte.gz``) or not.
``root`` defaults to ``$DEEPGRAD_DATA`` or ``~/.cache/deepgrad``. ``download=True`` fetches missing files
into ``root/mnist`` from the first mirror that answers, checks their checksum, and moves them into
place atomically (a temporary file, then ``os.replace``), so an interrupted download never leaves a
half-written file under the real name.

Checksums. MNIST: the SHA-256 of the *decompressed* IDX content, computed from the reference copy of
the four files. Hashing the content rather than the ``.gz`` bytes accepts any mirror's recompression;
the decompressed files' MD5s are the widely published ones (train images 6bbc9ace..., labels
a25bea73..., test images 2646ac64..., labels 27ae3e4e...). Fashion-MNIST: the MD5 of each ``.gz`` file
as published in the dataset's README (no SHA-256 is published, and none is invented here).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.data.dataset import Dataset, _check_index
from deepgrad.errors import DatasetFormatError, DatasetNotFoundError, DownloadError
from deepgrad.io import file_kind
from deepgrad.tensor import Tensor

logger = logging.getLogger(__name__)


# IDX element type codes -> NumPy dtypes (big-endian, as the format stores them).
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _idx_header(head: bytes, name: str, expected_magic: int | None) -> tuple[np.dtype, int]:
    """The element type and number of dimensions announced by an IDX file's 4-byte magic number."""
    if len(head) < 4:
        raise DatasetFormatError(f"{name}: {len(head)} bytes is too short for an IDX file (no magic number)")
    magic = int.from_bytes(head[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        kind = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}.get(expected_magic, "data")
        raise DatasetFormatError(
            f"{name}: bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (IDX {kind} file); "
            "is this the right file, and is it really (un)compressed as its name says?"
        )
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if magic >> 16 != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise DatasetFormatError(f"{name}: 0x{magic:08x} is not an IDX magic number")
    return np.dtype(_IDX_TYPES[type_code]), ndim


def _size_error(
    name: str, shape: tuple[int, ...], expected: int, actual: int | str, trailing: bool = False
) -> DatasetFormatError:
    problem = "has trailing bytes" if trailing or (isinstance(actual, int) and actual > expected) else "truncated"
    return DatasetFormatError(
        f"{name}: {problem}: the header announces shape {shape} ({expected} bytes of data), "
        f"the file holds {actual} bytes"
    )


def parse_idx(data: bytes, name: str = "<bytes>", expected_magic: int | None = None) -> np.ndarray:
    """Parse IDX bytes into an array of the stored type and shape, checking the header against the data.

    >>> import struct
    >>> parse_idx(struct.pack(">IIBBB", 0x801, 3, 7, 8, 9)).tolist()
    [7, 8, 9]
    """
    dtype, ndim = _idx_header(data[:4], name, expected_magic)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFormatError(f"{name}: truncated header ({len(data)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise _size_error(name, shape, expected, len(data) - header)
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


# Deflate expands at most ~1032:1, so a .gz file cannot hold more than this many bytes per byte of its own.
_GZIP_MAX_RATIO = 1100


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped when its name ends in .gz) into an array; errors name the file.

    The header is read first and the data only up to the size it announces, so a damaged or hostile
    file (a gzip bomb) can never make the reader decompress more than the announced array.
    """
    path = Path(path)
    try:
        kind = file_kind(path)
    except OSError as error:
        raise DatasetFormatError(f"{path}: cannot read ({error.strerror or error})") from None
    if kind not in ("file", None):
        raise DatasetFormatError(f"{path}: cannot read, it is not a regular file ({kind})")
    try:
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            if path.suffix != ".gz":
                return _read_idx_stream(raw, str(path), expected_magic, size)
            with gzip.GzipFile(fileobj=raw) as stream:
                return _read_idx_stream(stream, str(path), expected_magic, None, _GZIP_MAX_RATIO * size + 1024)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        # EOFError: the stream ends early (truncated download); BadGzipFile/zlib.error: not gzip, or damaged.
        raise DatasetFormatError(f"{path}: corrupt or truncated gzip data ({error})") from None
    except OSError as error:
        raise DatasetFormatError(f"{path}: cannot read ({error.strerror or error})") from None


def _read_idx_stream(stream: Any, name: str, expected_magic: int | None, size: int | None, most: int = 0) -> np.ndarray:
    """The array in ``stream``: ``size`` is the file's size when known (not gzipped), ``most`` an upper
    bound of what a gzipped file can hold."""
    dtype, ndim = _idx_header(stream.read(4), name, expected_magic)
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DatasetFormatError(
            f"{name}: truncated header ({4 + len(dims)} bytes, {ndim} dimensions need {4 + 4 * ndim})"
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, ">u4"))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size is not None and size - 4 - 4 * ndim != expected:
        raise _size_error(name, shape, expected, size - 4 - 4 * ndim)
    if size is None and expected > most:
        raise _size_error(name, shape, expected, f"at most {most}")
    data = np.empty(expected, np.uint8)  # not touched, so not in memory, until read into
    view, done = memoryview(data), 0
    while done < expected:
        count = stream.readinto(view[done : done + (1 << 22)])
        if not count:
            raise _size_error(name, shape, expected, done)
        done += count
    if stream.read(1):  # stop here: no more than the header announced is ever decompressed
        raise _size_error(name, shape, expected, f"more than {expected}", trailing=True)
    return data.view(dtype).reshape(shape)


def default_data_dir() -> Path:
    """Where datasets live unless told otherwise: ``$DEEPGRAD_DATA``, else ``~/.cache/deepgrad``."""
    env = os.environ.get("DEEPGRAD_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deepgrad"


@dataclass(frozen=True)
class _Resource:
    """One of the four files and how a download of it is verified."""

    name: str  # without .gz
    algorithm: str  # hashlib name
    digest: str
    decompressed: bool  # True: hash the decompressed IDX content; False: hash the .gz bytes as served


class MNIST(Dataset):
    """LeCun's handwritten digits: 60,000 training / 10,000 test images of 28x28, labels 0..9.

    Samples are ``(image, label)``: ``image`` float32 in [0, 1] of shape (1, 28, 28), or (784,) with
    ``flatten=True``; ``label`` int64. The arrays are loaded once into ``self.images`` and
    ``self.labels``, and `DataLoader` gathers batches from them directly. ``transform`` (image Tensor ->
    anything) and ``target_transform`` (int -> anything) run per sample, PyTorch-style, so they switch the
    loader to its per-sample path; ``mirrors`` replaces the list of download base URLs.

    >>> ds = MNIST("/data/mnist", train=False)  # doctest: +SKIP
    >>> ds.images.shape, ds.labels.dtype  # doctest: +SKIP
    ((10000, 1, 28, 28), dtype('int64'))
    """

    folder = "mnist"
    torchvision_folder = "MNIST"
    # Tried in order; the original site (yann.lecun.com) often refuses downloads, so it comes last.
    mirrors: Sequence[str] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    resources: Sequence[_Resource] = (
        _Resource(
            "train-images-idx3-ubyte",
            "sha256",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            True,
        ),
        _Resource(
            "train-labels-idx1-ubyte",
            "sha256",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            True,
        ),
        _Resource(
            "t10k-images-idx3-ubyte",
            "sha256",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            True,
        ),
        _Resource(
            "t10k-labels-idx1-ubyte",
            "sha256",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            True,
        ),
    )
    classes: Sequence[str] = tuple(str(d) for d in range(10))
    image_size = (28, 28)
    #: SHA-256 of decompressed label files that belong to another dataset -> its name (rejected on loading).
    foreign_labels: dict[str, str] = {}

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        flatten: bool = False,
        mirrors: Sequence[str] | None = None,
    ) -> None:
        self.root = default_data_dir() if root is None else Path(root).expanduser()
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        self.flatten = bool(flatten)
        if mirrors is not None:
            if isinstance(mirrors, str):
                mirrors = [mirrors]
            self.mirrors = tuple(mirrors)
        prefix = "train" if self.train else "t10k"
        images_name, labels_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        files = self._find((images_name, labels_name))
        if files is None and download:
            self.download()
            files = self._find((images_name, labels_name))
        if files is None:
            self._raise_not_found((images_name, labels_name))
        self.images_file, self.labels_file = files
        self.images, self.labels = self._load(self.images_file, self.labels_file)

    # ------------------------------------------------------------------ finding and loading

    def search_dirs(self) -> list[Path]:
        """The directories searched for the files, in order."""
        return [self.root / self.folder, self.root, self.root / self.torchvision_folder / "raw"]

    def _find(self, names: Sequence[str]) -> tuple[Path, ...] | None:
        """The files of one split from the first directory that has all of them (plain or .gz).

        Something under a wanted name that is not a regular file (a directory, a FIFO, a device, a symbolic
        link loop) is reported as such when no directory has the whole split; it is never opened."""
        odd: list[tuple[Path, str]] = []
        for directory in self.search_dirs():
            found = []
            for name in names:
                path = None
                for candidate in (directory / name, directory / f"{name}.gz"):
                    kind = self._kind(candidate, directory)
                    if kind == "file":
                        path = candidate
                        break
                    if kind is not None:
                        odd.append((candidate, kind))
                found.append(path)
            if all(found):
                return tuple(found)  # type: ignore[arg-type]
        if odd:
            path, kind = odd[0]
            raise DatasetFormatError(f"{path} is not a regular file ({kind}); an IDX file is expected there")
        return None

    @staticmethod
    def _kind(path: Path, directory: Path) -> str | None:
        try:
            return file_kind(path)
        except OSError as error:  # e.g. a directory this user may not look into
            raise DatasetNotFoundError(
                f"cannot look for {path.name} in the data directory {directory}: {error.strerror or error}"
            ) from None

    def _raise_not_found(self, names: Sequence[str]) -> None:
        split = "training" if self.train else "test"
        raise DatasetNotFoundError(
            f"{type(self).__name__} {split} files",
            [f"{n}[.gz]" for n in names],
            self.search_dirs(),
            self.root / self.folder,
        )

    def _load(self, images_file: Path, labels_file: Path) -> tuple[np.ndarray, np.ndarray]:
        raw_images = read_idx(images_file, IMAGES_MAGIC)
        raw_labels = read_idx(labels_file, LABELS_MAGIC)
        if self.foreign_labels:
            # MNIST and Fashion-MNIST files have the same names and sizes, and ``root`` itself is searched:
            # without this check a directory of MNIST digits would load silently as Fashion-MNIST.
            content = struct.pack(">II", LABELS_MAGIC, raw_labels.shape[0]) + raw_labels.tobytes()
            other = self.foreign_labels.get(hashlib.sha256(content).hexdigest())
            if other is not None:
                raise DatasetFormatError(
                    f"{labels_file}: these are the {other} files, not {type(self).__name__}; "
                    f"put the {type(self).__name__} files in their own directory (e.g. "
                    f"{self.root / self.folder}) and read them from there"
                )
        if raw_images.shape[1:] != self.image_size:
            raise DatasetFormatError(
                f"{images_file}: images are {raw_images.shape[1]}x{raw_images.shape[2]}, "
                f"{type(self).__name__} images are {self.image_size[0]}x{self.image_size[1]}"
            )
        if raw_images.shape[0] != raw_labels.shape[0]:
            raise DatasetFormatError(
                f"{images_file} holds {raw_images.shape[0]} images but {labels_file} holds "
                f"{raw_labels.shape[0]} labels; the files belong to different sets"
            )
        if raw_labels.size and int(raw_labels.max()) >= len(self.classes):
            raise DatasetFormatError(
                f"{labels_file}: label {int(raw_labels.max())} is outside 0..{len(self.classes) - 1}"
            )
        n, rows, cols = raw_images.shape
        shape = (n, rows * cols) if self.flatten else (n, 1, rows, cols)
        images = raw_images.reshape(shape).astype(np.float32)
        images /= 255.0  # as torchvision's ToTensor: x / 255, exact division
        return images, raw_labels.astype(np.int64)

    # ------------------------------------------------------------------ Dataset protocol

    @property
    def supports_gather(self) -> bool:  # type: ignore[override]
        return self.transform is None and self.target_transform is None

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = _check_index(index, len(self), type(self).__name__)
        image: Any = Tensor._make(self.images[index].copy(), False, None)
        label: Any = int(self.labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(images[indices], labels[indices])``: one fancy index each (transforms do not apply here)."""
        return self.images[indices], self.labels[indices]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        shape = self.images.shape[1:]
        return f"{type(self).__name__}({split}, {len(self)} samples, images {shape}, from {self.images_file.parent})"

    # ------------------------------------------------------------------ download

    def download(self) -> None:
        """Fetch every file not already in ``root/<folder>`` (plain or .gz), verify it, and move it in atomically."""
        target = self.root / self.folder
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DownloadError(f"cannot create the data directory {target}: {error.strerror or error}") from None
        for resource in self.resources:
            final = target / f"{resource.name}.gz"
            if final.is_file() or (target / resource.name).is_file():
                continue
            self._download_one(resource, final)

    def _download_one(self, resource: _Resource, final: Path) -> None:
        # Imported here: the HTTP stack costs ~30 ms at import, and only downloads need it.
        import http.client
        import urllib.error
        import urllib.request

        attempts = []
        for mirror in self.mirrors:
            url = mirror.rstrip("/") + "/" + final.name
            fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
            tmp = Path(tmp_name)
            try:
                logger.info("downloading %s -> %s", url, final)
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                    announced, received = response.headers.get("Content-Length"), 0
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        received += len(chunk)
                if announced is not None and announced.isdigit() and received != int(announced):
                    attempts.append(f"{url}: connection closed after {received} of {announced} bytes")
                    continue
                actual = _digest(tmp, resource)
                if actual != resource.digest:
                    what = "decompressed content" if resource.decompressed else "file"
                    attempts.append(
                        f"{url}: {resource.algorithm} checksum mismatch of the {what} "
                        f"(got {actual}, expected {resource.digest})"
                    )
                    continue
                os.replace(tmp, final)
                return
            except DatasetFormatError as error:  # a corrupt or truncated .gz from this mirror
                attempts.append(f"{url}: {error}")
            except urllib.error.HTTPError as error:
                attempts.append(f"{url}: HTTP {error.code} {error.reason}")
            except (OSError, ValueError, http.client.HTTPException) as error:
                # URLError and timeouts are OSErrors; ValueError: a malformed URL; IncompleteRead: a cut connection
                attempts.append(f"{url}: {getattr(error, 'reason', None) or error}")
            finally:
                tmp.unlink(missing_ok=True)  # after os.replace the temp name is gone; otherwise drop the partial file
        raise DownloadError(
            f"could not download {final.name} into {final.parent}: " + "; ".join(attempts or ["no mirrors configured"])
        )


def _digest(path: Path, resource: _Resource) -> str:
    """The checksum of a downloaded .gz file: over its bytes, or over the decompressed IDX content (streamed,
    so a hostile mirror's gzip bomb costs time, not memory)."""
    digest = hashlib.new(resource.algorithm, usedforsecurity=False)
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) if resource.decompressed else raw as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DatasetFormatError(f"corrupt or truncated gzip data ({error})") from None
    return digest.hexdigest()


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the same format and sizes as MNIST, ten kinds of clothing.

    Same arguments as `MNIST`; files are looked for in ``root/fashion-mnist``, ``root`` and
    ``root/FashionMNIST/raw``.
    """

    folder = "fashion-mnist"
    torchvision_folder = "FashionMNIST"
    mirrors = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )
    # MD5 of the .gz files as published in the Fashion-MNIST README (the only published checksums).
    resources = (
        _Resource("train-images-idx3-ubyte", "md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", False),
        _Resource("train-labels-idx1-ubyte", "md5", "25c81989df183df01b3e8a0aad5dffbe", False),
        _Resource("t10k-images-idx3-ubyte", "md5", "bef4ecab320f06d8554ea6380940ec79", False),
        _Resource("t10k-labels-idx1-ubyte", "md5", "bb300cfdad3c16e7a12a480ee83cd310", False),
    )
    foreign_labels = {r.digest: "MNIST" for r in MNIST.resources if "labels" in r.name}
    classes = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )

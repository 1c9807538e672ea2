"""Weight files: `save(state_dict, path)` and `load(path)` in the safetensors format.

safetensors is a plain format (an 8-byte header length, a JSON header with each tensor's dtype, shape
and byte range, then the raw little-endian bytes), so loading a file can never run code, unlike the
pickles behind ``torch.save``. Files are interchangeable with PyTorch's ``safetensors.torch``
``save_file``/``load_file``. Writing is atomic: the bytes go to a temporary file in the same directory,
are flushed to disk, and the temporary file is renamed over the target, so the target is always either
the old file or the complete new one. The ``safetensors`` package is an optional extra:
``pip install "deepgrad[weights]"``.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from deepgrad.creation import from_numpy
from deepgrad.devices import check_device
from deepgrad.errors import WeightFileError, WeightFileNotFoundError
from deepgrad.tensor import Tensor

__all__ = [
    "WeightFileError",
    "WeightFileNotFoundError",
    "file_kind",
    "load",
    "load_metadata",
    "parse_json",
    "read_tensors",
    "save",
    "temporary_file",
]

#: Metadata entry that marks a training checkpoint (`deepgrad.train.checkpoint`): its model's weights are the
#: tensors named ``ckpt/model/<name>``, beside the optimizer's buffers; `load` returns those weights.
CHECKPOINT_KEY = "deepgrad.checkpoint"
_CHECKPOINT_MODEL = "ckpt/model/"

#: How deeply JSON read from a file may nest (deepgrad's own metadata nests about a dozen levels).
MAX_JSON_DEPTH = 64

# Metadata entry that records the order of the names, which the file itself does not keep (safetensors
# sorts its tensors), so that load(save(d)) lists the keys in d's order.
_ORDER_KEY = "deepgrad.key_order"

# dtypes a safetensors file can hold that deepgrad tensors support
_SUPPORTED_DTYPES = {"F16", "F32", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL"}


def _safetensors() -> Any:
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            'reading and writing weight files needs the safetensors package: pip install "deepgrad[weights]"'
        ) from None
    return safetensors


def save(state_dict: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``{name: Tensor}`` to ``path`` as a safetensors file, atomically; ``metadata`` is optional text.

    Tensors are written detached, in their own dtype and shape (0-d included). Any existing file at
    ``path`` is replaced only once the new file is complete on disk. A whole Module is refused (PyTorch
    pickles it; deepgrad never pickles): save ``model.state_dict()``. A ``.pt``/``.pth`` name gets a warning
    that the file is safetensors, which ``torch.load`` cannot read (``safetensors.torch.load_file`` can).

    >>> import deepgrad, deepgrad.io, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> deepgrad.io.save({"weight": deepgrad.ones(2, 3), "bias": deepgrad.zeros(2)}, path)
    >>> {name: t.shape for name, t in deepgrad.io.load(path).items()}
    {'weight': (2, 3), 'bias': (2,)}
    """
    st = _safetensors()
    path = os.fspath(path)
    if hasattr(state_dict, "state_dict") and hasattr(state_dict, "parameters"):
        raise TypeError(
            f"save: got a whole {type(state_dict).__name__} module; deepgrad writes tensors, never pickled objects: "
            "save `model.state_dict()` and rebuild the model in code, then model.load_state_dict(deepgrad.load(path))"
        )
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a dict of name -> Tensor (a state_dict), got {type(state_dict).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save: tensor names must be strings, got {name!r} ({type(name).__name__})")
        if isinstance(value, Tensor):
            array = value.array
        elif isinstance(value, np.ndarray):
            array = value
        else:
            raise TypeError(f"save: entry {name!r} is a {type(value).__name__}, not a Tensor")
        if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
            raise TypeError(f"save: entry {name!r} has dtype {array.dtype}, which a safetensors file cannot hold")
        # (not np.ascontiguousarray, which turns 0-d arrays into 1-d ones)
        arrays[name] = array if array.flags.c_contiguous else np.array(array, order="C")
    text: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"save: metadata must map strings to strings, got {key!r}: {value!r}")
        if key == _ORDER_KEY:
            raise ValueError(f"save: the metadata key {_ORDER_KEY!r} is reserved by deepgrad")
        text[key] = value
    text[_ORDER_KEY] = json.dumps(list(arrays))

    if path.lower().endswith((".pt", ".pth")):
        warnings.warn(
            f"save: {path} is written in the safetensors format (deepgrad never pickles), which torch.load cannot "
            "read; read it in PyTorch with safetensors.torch.load_file, or name it .safetensors",
            UserWarning,
            stacklevel=2,
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise WeightFileNotFoundError(f"save: cannot write {path}: the directory {directory} does not exist")
    fd, temp_path = temporary_file(path)
    try:
        os.close(fd)
        st.numpy.save_file(arrays, temp_path, metadata=text)
        with open(temp_path, "rb+") as handle:
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        _set_default_mode(temp_path)
        os.replace(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def load(
    path: str | os.PathLike, map_location: Any = None, *, weights_only: bool | None = None, mmap: Any = None
) -> OrderedDict[str, Tensor]:
    """Read a safetensors file into an ordered dict ``name -> Tensor`` (dtypes and shapes as stored).

    ``map_location`` and ``weights_only`` are torch.load's: a map location must be the CPU (``"cpu"``, a
    ``deepgrad.device`` or a dict/callable, which has nothing to remap); the file holds only tensors, so
    loading is always "weights only", and ``weights_only=False`` (PyTorch's unpickling) is refused.

    Names come in the order they were saved by deepgrad, otherwise sorted (as ``safetensors.torch.load_file``).
    From a training checkpoint, the model's weights (its ``state_dict``), without the optimizer's state.
    Never unpickles anything; a missing, truncated, corrupted or non-safetensors file raises
    ``WeightFileError`` naming the file.

    >>> import deepgrad, deepgrad.io, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
    >>> deepgrad.io.save({"w": deepgrad.tensor([1.0, 2.0])}, path)
    >>> deepgrad.io.load(path)["w"]
    tensor([1., 2.])
    """
    path = os.fspath(path)
    if weights_only is False:
        raise ValueError(
            f"load({path!r}, weights_only=False): deepgrad never unpickles (that is how a file can run code); "
            "its files hold only tensors: call load(path) and rebuild the model in code"
        )
    if map_location is not None and not isinstance(map_location, Mapping) and not callable(map_location):
        check_device(map_location)
    return read_tensors(path, model_only=True)


def read_tensors(path: str | os.PathLike, model_only: bool = False) -> OrderedDict[str, Tensor]:
    """Every tensor of a safetensors file (`load`'s reader); ``model_only``: of a checkpoint, only the model's."""
    path = os.fspath(path)
    with _open(path) as handle:
        metadata = handle.metadata() or {}
        names = _ordered_names(list(handle.keys()), metadata)
        prefix = _CHECKPOINT_MODEL if model_only and CHECKPOINT_KEY in metadata else ""
        names = [name for name in names if name.startswith(prefix)]
        for name in names:
            dtype = handle.get_slice(name).get_dtype()
            if dtype not in _SUPPORTED_DTYPES:
                raise WeightFileError(
                    f"{path}: tensor {name!r} has dtype {dtype}, which deepgrad does not support "
                    f"(supported: {', '.join(sorted(_SUPPORTED_DTYPES))}); convert it, e.g. to float32, before saving"
                )
        result: OrderedDict[str, Tensor] = OrderedDict()
        for name in names:
            try:
                array = handle.get_tensor(name)
            except Exception as error:
                raise WeightFileError(f"{path}: cannot read tensor {name!r}: {error}") from None
            # a private, writable copy: the array may view a buffer owned by the file reader
            result[name[len(prefix) :]] = from_numpy(np.array(array, copy=True))
    return result


def load_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The text metadata saved with ``save(..., metadata=...)`` (without deepgrad's own entries)."""
    path = os.fspath(path)
    with _open(path) as handle:
        metadata = dict(handle.metadata() or {})
    metadata.pop(_ORDER_KEY, None)
    return metadata


def parse_json(text: str, where: str, error: type[Exception] = WeightFileError) -> Any:
    """JSON text read from a file, as ``error`` naming ``where`` (the file and field) when it is not valid
    JSON or nests deeper than `MAX_JSON_DEPTH`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{where}: the JSON nests too deeply") from None
    except ValueError as problem:
        raise error(f"{where}: not valid JSON ({problem})") from None
    stack = [(value, 1)]
    while stack:  # iterative: a deep value must not exhaust the stack of the code that reads it
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise error(f"{where}: the JSON nests more than {MAX_JSON_DEPTH} levels deep")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return value


def temporary_file(path: str | os.PathLike) -> tuple[int, str]:
    """``mkstemp`` beside ``path`` for an atomic write: ``.<name>.<pid>.<random>.tmp``, open, mode 0600.

    A process killed mid-write leaves its temporary file behind; such files of processes that no longer
    run are removed here first, so they never pile up beside a checkpoint written every epoch.
    """
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    _remove_stale_temporaries(directory, name)
    return tempfile.mkstemp(dir=directory, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")


def _remove_stale_temporaries(directory: str, name: str) -> None:
    prefix = f".{name}."
    try:
        entries = [entry.name for entry in os.scandir(directory)]
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix) :].split(".", 1)[0]
        if entry.startswith(prefix) and entry.endswith(".tmp") and pid.isdigit() and not _running(int(pid)):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    except (OverflowError, ValueError):
        return False  # not a process id at all
    return True


# ---------------------------------------------------------------------- helpers


def file_kind(path: str | os.PathLike) -> str | None:
    """``"file"`` for a regular file, None when nothing is there, else what it is ("a directory", "a FIFO",
    "a symbolic link loop", ...), found without opening it (opening a FIFO would wait for a writer)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else None
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symbolic link loop"
        if error.errno == errno.ENOTDIR:
            return None
        raise
    if stat.S_ISREG(info.st_mode):
        return "file"
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device"}
    kinds.update({stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"})
    return next((what for test, what in kinds.items() if test(info.st_mode)), "not a regular file")


def _open(path: str) -> Any:
    """safe_open with errors that name the file and say what is wrong with it."""
    st = _safetensors()
    try:
        kind = file_kind(path)
    except OSError as error:
        raise WeightFileError(f"cannot read {path}: {error.strerror or error}") from None
    if kind is None:
        raise WeightFileNotFoundError(f"no such weight file: {path}")
    if kind == "a directory":
        raise WeightFileError(f"{path} is a directory, not a weight file")
    if kind != "file":
        raise WeightFileError(f"{path} is not a regular file ({kind}); a weight file must be one")
    try:
        return st.safe_open(path, framework="numpy")
    except Exception as error:
        raise WeightFileError(f"{path} is not a valid safetensors weight file ({error}){_hint(path)}") from None


def _hint(path: str) -> str:
    """A guess at what the file is, from its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            size = os.fstat(handle.fileno()).st_size
    except OSError:
        return ""
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return (
            "; it looks like a pickle or torch.save checkpoint, which deepgrad never loads because unpickling can "
            "run arbitrary code: in PyTorch, save it with safetensors.torch.save_file(model.state_dict(), path)"
        )
    if size < 8:
        return f"; the file has only {size} bytes"
    header_length = int.from_bytes(head, "little")
    if 8 + header_length > size:
        return f"; the header claims {header_length} bytes but the file has {size} (truncated or not safetensors)"
    return "; the file may be truncated or corrupted"


def _ordered_names(names: list[str], metadata: Mapping[str, str]) -> list[str]:
    saved = metadata.get(_ORDER_KEY)
    if saved is not None:
        try:
            order = json.loads(saved)
        except ValueError:
            order = None
        if isinstance(order, list) and sorted(order) == sorted(names):
            return order
    return sorted(names)


def _set_default_mode(path: str) -> None:
    """mkstemp makes the file private (0600); give it the mode a normal open() would (0666 minus the umask)."""
    if os.name != "posix":
        return
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); best effort elsewhere."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

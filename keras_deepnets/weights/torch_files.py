"""Reading PyTorch / timm checkpoints as {name: numpy array}, without torch.

Sources (`read_state_dict`): a `.pth`/`.pt` file in torch's zip format (what `torch.save` has
written since torch 1.6, e.g. torchvision's `resnet18-f37072fd.pth`), a `.safetensors` file
(timm and the Hugging Face hub; read with the `safetensors` package), a `.npz`, or a dict of
arrays.

A `.pth` holds a pickle, and unpickling runs whatever the pickle names. So the pickle is read by
an allow-list unpickler that knows only what a state_dict of tensors needs (an OrderedDict,
torch's tensor and parameter rebuild functions and the typed storage names: what
`torch.load(weights_only=True)` allows for such a file), rebuilds each tensor from the zip's raw
storage bytes with numpy, and refuses any other global with a `CheckpointError` before anything
is called. bfloat16 tensors come back as `ml_dtypes.bfloat16` arrays (ml_dtypes comes with
TensorFlow).
"""

import collections
import io
import os
import pickle
import sys
import zipfile

import ml_dtypes
import numpy as np

# torch's legacy typed-storage names (what torch.save pickles) -> numpy dtype.
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as a state_dict of tensors (names the file)."""


class _StorageType:
    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2 with numpy: a (possibly strided, offset) view of the
    storage, copied so that every array owns its memory."""
    del requires_grad, backward_hooks, metadata
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    extent = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if any(n == 0 for n in size):
        return np.zeros(size, storage.dtype)
    if storage_offset < 0 or extent > storage.size or any(s < 0 for s in stride):
        raise pickle.UnpicklingError(f"a tensor of size {size}, stride {stride} at offset "
                                     f"{storage_offset} does not fit its storage of "
                                     f"{storage.size} elements")
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size,
        strides=[s * storage.itemsize for s in stride], writeable=False)
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    del requires_grad, backward_hooks
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _TensorsOnlyUnpickler(pickle.Unpickler):
    """Rebuilds tensors from the zip's storages; any other global is refused, unrun."""

    def __init__(self, data, archive, prefix, byteorder, path):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.byteorder, self.path = archive, prefix, byteorder, path

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(
            f"{self.path}: its pickle asks for {module}.{name}, which a checkpoint of tensors "
            f"does not need; refused without running it. Only state_dicts of tensors are read "
            f"(torch.save(model.state_dict(), path)).")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"{self.path}: unexpected persistent id {pid!r} in its pickle.")
        _, storage_type, key, _location, numel = pid
        dtype = storage_type.dtype
        try:
            raw = self.archive.read(f"{self.prefix}data/{key}")
        except KeyError:
            raise CheckpointError(f"{self.path}: storage data/{key} named by its pickle is "
                                  "missing from the archive.") from None
        if len(raw) < numel * dtype.itemsize:
            raise CheckpointError(f"{self.path}: storage {key} holds {len(raw)} bytes, fewer "
                                  f"than its {numel} {storage_type.name} elements need.")
        # Read as unsigned integers of the same width, swap if the file's byte order is not
        # this machine's, then view as the dtype (works for bfloat16 too).
        words = np.frombuffer(raw, dtype=f"u{dtype.itemsize}", count=numel)
        if self.byteorder != sys.byteorder:
            words = words.byteswap()
        return words.view(dtype)


def read_pth(path):
    """A torch zip-format checkpoint (`torch.save`) as {name: array}, without running code."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        with open(path, "rb") as f:
            head = f.read(2)
        legacy = head[:1] == b"\x80"  # a bare pickle: torch's format before 1.6
        raise CheckpointError(
            f"{path}: not a torch zip-format checkpoint"
            + (" (it is torch's legacy pre-1.6 format: load it with torch and save it again, "
               "or as .safetensors)" if legacy else " (truncated, or not a checkpoint)")
            + ".") from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"{path}: a zip, but not a torch checkpoint (no data.pkl).")
        prefix = pickles[0][:-len("data.pkl")]
        names = set(archive.namelist())
        byteorder = (archive.read(prefix + "byteorder").decode().strip()
                     if prefix + "byteorder" in names else "little")
        try:
            state = _TensorsOnlyUnpickler(archive.read(pickles[0]), archive, prefix, byteorder,
                                          path).load()
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, zipfile.BadZipFile,
                OSError) as e:
            raise CheckpointError(f"{path}: its pickle cannot be read as a state_dict "
                                  f"({type(e).__name__}: {e}).") from None
    return _tensors(state, path)


def _tensors(state, path):
    """The {name: array} inside `state`, also when a training checkpoint nests it."""
    if isinstance(state, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path}: holds {type(state).__name__}, not a state_dict "
                              "(a dict of tensors).")
    bad = [str(k) for k, v in state.items()
           if not isinstance(k, str) or not isinstance(v, np.ndarray)]
    if bad:
        raise CheckpointError(f"{path}: entries that are not tensors: {', '.join(bad[:5])}"
                              f"{' ...' if len(bad) > 5 else ''}.")
    return dict(state)


def read_safetensors(path):
    """A `.safetensors` file as {name: array} (safetensors' numpy API; bfloat16 via
    ml_dtypes)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return _tensors(load_file(path), path)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable .safetensors file ({e}).") from None


def read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as f:
            return _tensors({k: f[k] for k in f.files}, path)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path}: not a readable .npz file ({e}).") from None


READERS = {".pth": read_pth, ".pt": read_pth, ".bin": read_pth, ".safetensors": read_safetensors,
           ".npz": read_npz}


def read_state_dict(source):
    """{name: numpy array} from a path (.pth/.pt/.bin, .safetensors, .npz) or a dict of arrays
    (torch tensors too: anything numpy can take)."""
    if isinstance(source, dict):
        return _tensors({k: np.asarray(v) for k, v in source.items()}, "the dict")
    if not isinstance(source, (str, os.PathLike)):
        raise CheckpointError(f"source must be a file path or a dict of arrays; got "
                              f"{type(source).__name__}.")
    path = os.fspath(source)
    ext = os.path.splitext(path)[1].lower()
    if ext not in READERS:
        raise CheckpointError(f"{path}: unknown checkpoint type {ext or '(no extension)'!r}; "
                              f"accepted: {', '.join(READERS)}.")
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file.")
    return READERS[ext](path)

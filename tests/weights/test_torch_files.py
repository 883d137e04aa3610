"""Reading torch checkpoints without torch (torch_files.py): a real `torch.save` file, and every
kind of bad file a user may hand over, each refused with a line naming the file and the problem."""

import os
import pathlib
import pickle
import zipfile

import ml_dtypes
import numpy as np
import pytest

from keras_deepnets.weights.torch_files import CheckpointError, read_state_dict

TORCHVISION = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "torchvision"
SAMPLE = TORCHVISION / "pth_sample.pth"


def test_real_torch_save_file_reads_exactly():
    """dtypes (bfloat16 via ml_dtypes), shapes, a 0-d tensor, two views of one storage (one at
    an offset) and a transposed (non-contiguous) tensor, as torch wrote them."""
    state = read_state_dict(SAMPLE)
    expected = np.load(TORCHVISION / "pth_sample_expected.npz")
    assert sorted(state) == sorted(expected.files)
    for key in expected.files:
        got, want = state[key], expected[key]
        assert got.shape == want.shape, key
        if key == "bf16.weight":  # the expected file gives bfloat16 as float32 values
            assert got.dtype == ml_dtypes.bfloat16
            got = got.astype(np.float32)
        assert got.dtype == want.dtype, key
        np.testing.assert_array_equal(got, want, err_msg=key)
        assert got.flags.owndata or got.base is None or got.base.flags.owndata


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch EVIL_MARKER",))


def _torch_like_zip(path, payload):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
        z.writestr("archive/byteorder", "little")
    return path


def test_pickle_that_would_run_code_is_refused_unrun(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _torch_like_zip(tmp_path / "evil.pth", {"conv1.weight": _Evil()})
    with pytest.raises(CheckpointError, match=r"evil\.pth: its pickle asks for (posix|os)\.system"
                                              r".*refused without running it"):
        read_state_dict(path)
    assert not (tmp_path / "EVIL_MARKER").exists()


def _truncated(tmp_path):
    data = SAMPLE.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:len(data) // 2])
    return tmp_path / "cut.pth", "not a torch zip-format checkpoint"


def _text(tmp_path):
    (tmp_path / "notes.pth").write_text("these are not weights\n")
    return tmp_path / "notes.pth", "not a torch zip-format checkpoint"


def _legacy(tmp_path):
    (tmp_path / "old.pth").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    return tmp_path / "old.pth", "legacy pre-1.6 format"


def _zip_without_pickle(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.pth", "w") as z:
        z.writestr("readme.txt", "hello")
    return tmp_path / "other.pth", "not a torch checkpoint"


def _not_tensors(tmp_path):
    return _torch_like_zip(tmp_path / "list.pth", [1, 2, 3]), "holds list, not a state_dict"


def _bad_safetensors(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    return tmp_path / "bad.safetensors", "not a readable .safetensors file"


def _bad_npz(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    return tmp_path / "bad.npz", "not a readable .npz file"


def _unknown_extension(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"")
    return tmp_path / "w.h5", r"unknown checkpoint type '\.h5'; accepted: \.pth"


def _missing(tmp_path):
    return tmp_path / "nowhere.safetensors", "no such file"


@pytest.mark.parametrize("make", [_truncated, _text, _legacy, _zip_without_pickle, _not_tensors,
                                  _bad_safetensors, _bad_npz, _unknown_extension, _missing])
def test_bad_files_get_one_clear_error_naming_the_file(make, tmp_path):
    path, message = make(tmp_path)
    with pytest.raises(CheckpointError, match=message) as info:
        read_state_dict(path)
    assert str(path) in str(info.value)

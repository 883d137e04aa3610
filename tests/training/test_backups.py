"""Backups that survive a damaged latest one: real training runs leave two backups, the newest is
damaged on disk, and resuming falls back to the previous one with one line, loses nothing older,
and ends training; with no readable backup, a one-line ConfigError says how to start fresh."""

import csv
import re
import shutil
import types

import pytest
import tensorflow as tf

from keras_deepnets import training
from keras_deepnets.training import checkpoints

# 64 synthetic images at batch 32: 2 steps per epoch, a backup after each (ckpt-1 mid-epoch,
# ckpt-2 at the epoch's end).
RUN = dict(model="resnet20", use_synthetic_data=True, synthetic_examples=64, batch_size=32,
           epochs=1, backup_steps=1, eval_every=0, export_dir="", verbose=0, tensorboard=False)


@pytest.fixture(scope="module")
def two_backups(tmp_path_factory):
    """A model_dir whose backup/ holds ckpt-1 and ckpt-2 (copy it before changing it)."""
    model_dir = tmp_path_factory.mktemp("backups") / "run"
    training.train(model_dir=str(model_dir), **RUN)
    names = sorted(p.name for p in (model_dir / "backup").glob("ckpt-*.index"))
    assert names == ["ckpt-1.index", "ckpt-2.index"]
    return model_dir


def _truncate_data(prefix):
    data = next(prefix.parent.glob(prefix.name + ".data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _garbage_index(prefix):
    prefix.with_name(prefix.name + ".index").write_bytes(b"not a checkpoint index " * 40)


@pytest.mark.parametrize("damage", [_truncate_data, _garbage_index])
def test_damaged_latest_backup_resumes_from_the_previous(damage, two_backups, tmp_path, capsys):
    model_dir = tmp_path / "run"
    shutil.copytree(two_backups, model_dir)
    backup = model_dir / "backup"
    damage(backup / "ckpt-2")
    capsys.readouterr()
    result = training.train(model_dir=str(model_dir), **RUN)
    notes = [line for line in capsys.readouterr().out.splitlines() if "ckpt-2" in line]
    assert len(notes) == 1 and re.match(
        r"Cannot restore backup ckpt-2 \(.+\); resuming from the previous backup ckpt-1 instead "
        r"\(the damaged files are moved to .*damaged\)\.$", notes[0]), notes
    assert result.resumed_from == str(backup / "ckpt-1")
    # Resumed at step 1 of the epoch, ran its last step, and ended the run normally.
    steps = [int(float(r["step"])) for r in csv.DictReader(open(model_dir / "train_steps.csv"))]
    assert steps == [1, 2] and [r["step"] for r in result.history] == [2]
    # Nothing older lost: ckpt-1 stays beside the new ckpt-2, the damaged files are kept apart.
    assert sorted(p.name for p in backup.glob("ckpt-*.index")) == ["ckpt-1.index", "ckpt-2.index"]
    assert any((backup / "damaged").glob("ckpt-2.*"))
    assert tf.train.latest_checkpoint(str(backup)) == str(backup / "ckpt-2")


def test_no_readable_backup_is_one_clear_error(two_backups, tmp_path):
    model_dir = tmp_path / "run"
    shutil.copytree(two_backups, model_dir)
    _truncate_data(model_dir / "backup" / "ckpt-2")
    _garbage_index(model_dir / "backup" / "ckpt-1")
    backup = str(model_dir / "backup")
    with pytest.raises(training.ConfigError) as error:
        training.train(model_dir=str(model_dir), **RUN)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"No usable backup in {backup}: ckpt-2 (")
    assert f"To start fresh, delete {backup} (training restarts at step 0) or use a new " \
           "--model_dir." in message
    assert sorted(p.name for p in (model_dir / "backup").iterdir()) == sorted(
        p.name for p in (two_backups / "backup").iterdir())  # nothing moved or deleted


class _Resolver:
    """A cluster resolver of worker `task_id` in a two-worker cluster."""

    def __init__(self, task_id):
        self.task_type, self.task_id = "worker", task_id

    def cluster_spec(self):
        return tf.train.ClusterSpec({"worker": ["localhost:1", "localhost:2"]})


def test_every_worker_falls_back_and_only_the_chief_moves_files(tmp_path):
    """MultiWorkerMirroredStrategy: workers read the chief's folder; a damaged latest backup
    sends each to the previous one, and only the chief (worker 0) repairs the folder."""
    counter = tf.Variable(0, dtype=tf.int64)
    chief = checkpoints.Backup(str(tmp_path), types.SimpleNamespace(cluster_resolver=_Resolver(0)),
                               counter=counter)
    for step in (4, 8):
        counter.assign(step)
        chief.save(step)
    _truncate_data(tmp_path / "backup" / "ckpt-8")
    lines = []
    worker = checkpoints.Backup(str(tmp_path), types.SimpleNamespace(cluster_resolver=_Resolver(1)),
                                log=lines.append, counter=counter)
    assert worker.restore() == str(tmp_path / "backup" / "ckpt-4") and int(counter.numpy()) == 4
    assert len(lines) == 1 and lines == worker.restore_notes and "damaged" not in lines[0]
    assert (tmp_path / "backup" / "ckpt-8.index").exists()  # the worker leaves the folder be
    counter.assign(0)
    assert chief.restore() == str(tmp_path / "backup" / "ckpt-4") and int(counter.numpy()) == 4
    assert not (tmp_path / "backup" / "ckpt-8.index").exists()

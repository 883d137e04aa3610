"""Backups for resuming after a crash or `kill -9`, and best/last weights.

The backup (model_dir/backup) is a tf.train.Checkpoint of the model, the optimizer (its
iteration count is the global step), the completed epochs and the step inside the current epoch:
what the loop needs to continue mid-epoch. The input position is not saved: each epoch's input
is rebuilt from seed + epoch and the consumed batches are skipped (a tf.data iterator checkpoint
would store whole shuffle buffers of decoded images).

The last two backups are kept. When the newest cannot be read back (a truncated data file, a
garbage index, a missing file), `restore` takes the previous one and says so in one line; the
chief then moves the damaged files to backup/damaged/ and drops them from the checkpoint state,
so that the next saves rotate out the damaged backup, never the only good one. With no readable
backup at all, a ConfigError names the folder and how to start fresh.

Under MultiWorkerMirroredStrategy every worker must save; workers other than the chief write to
a temporary folder that is deleted right away (the pattern of Keras's BackupAndRestore), and all
workers restore from the chief's folder, so model_dir must be on a shared file system there.
Each worker picks the newest readable backup by itself; they agree as long as they read the same
files (a read error seen by one worker only would make it resume from an older step).
"""

import os
import shutil
import time

import tensorflow as tf
from tensorflow.python.checkpoint import checkpoint_management

from keras_deepnets.training.strategy import ConfigError, is_chief

KEEP = 2  # backups kept: the newest, and the one to fall back to when it is damaged
_PREFIX = "ckpt"  # CheckpointManager's file prefix: backup/ckpt-<global step>.index ...
# What restoring a damaged backup raises: tf.errors.OpError (DataLossError for a bad checksum,
# NotFoundError for a missing file, a bare OpError for a garbage index), IndexError ("Read less
# bytes than requested" for a truncated data file), ValueError (shapes that do not fit) and
# AssertionError (assert_existing_objects_matched: the backup lacks part of the model).
_READ_ERRORS = (tf.errors.OpError, LookupError, ValueError, AssertionError)


def _print_line(line):
    print(line, flush=True)


def _quiet(line):
    del line


def _step(prefix):
    """The global step in a backup's name (ckpt-<step>); -1 when it has none."""
    number = os.path.basename(prefix).rpartition("-")[2]
    return int(number) if number.isdigit() else -1


def _reason(error):
    """The first line of a restore error, without TF's `{{function_node ...}}` prefix."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    if text.startswith("{{") and "}}" in text:
        text = text.split("}}", 1)[1].strip()
    return text if len(text) <= 100 else text[:97] + "..."


class Backup:
    """The run's backups in model_dir/backup (see the module docstring).

    `log(line)` gets the one line that says a damaged backup was skipped (default: print on the
    chief, nothing on the other workers); `restore_notes` keeps those lines of the last
    `restore` for the caller."""

    def __init__(self, model_dir, strategy, log=None, **trackables):
        self.chief = is_chief(strategy)
        self.directory = os.path.join(model_dir, "backup")
        write_dir = self.directory
        if not self.chief:
            resolver = strategy.cluster_resolver
            write_dir = os.path.join(model_dir,
                                     f".backup_tmp_{resolver.task_type}_{resolver.task_id}")
        self.write_dir = write_dir
        self.log = log or (_print_line if self.chief else _quiet)
        self.restore_notes = []
        self.latest = None  # the backup last restored or saved: the last good one
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = self._manager()

    def _manager(self):
        # The manager reads the checkpoint state when it is made: make a new one after the
        # state changes under it (see `_set_aside`).
        return tf.train.CheckpointManager(self.checkpoint, self.write_dir, max_to_keep=KEEP)

    def backups(self):
        """The backups in the chief's folder, newest first: those the checkpoint state lists and
        any other with an index file, so that a damaged state file hides none."""
        names = set()
        try:
            state = tf.train.get_checkpoint_state(self.directory)
        except ValueError:  # a state file without a latest path: the files still tell
            state = None
        if state is not None:
            names.update(os.path.basename(p) for p in state.all_model_checkpoint_paths)
            names.add(os.path.basename(state.model_checkpoint_path))
        pattern = os.path.join(self.directory, f"{_PREFIX}-*.index")
        names.update(os.path.basename(p)[: -len(".index")] for p in tf.io.gfile.glob(pattern))
        return [os.path.join(self.directory, n) for n in sorted(names, key=_step, reverse=True)]

    def _try_restore(self, path):
        """None when `path` restored completely, else why not (one line)."""
        try:
            self.checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
        except _READ_ERRORS as error:
            return _reason(error)
        return None

    def restore(self):
        """Restores the newest backup that reads back whole; returns its path, or None when there
        is no backup (a fresh run).

        A damaged newer backup is skipped for the previous one, with one line to `log` (also in
        `restore_notes`). Whatever the damaged one restored before failing is overwritten: the
        good one matches every object of the run.

        Raises:
            ConfigError: backups exist but none can be restored.
        """
        self.restore_notes = []
        failed = []
        for path in self.backups():
            reason = self._try_restore(path)
            if reason is None:
                if failed:
                    self._fell_back(path, failed)
                self.latest = path
                return path
            failed.append((path, reason))
        if failed:
            raise ConfigError(self._unusable(failed))
        return None

    def _fell_back(self, path, failed):
        names = ", ".join(f"{os.path.basename(p)} ({reason})" for p, reason in failed)
        note = (f"Cannot restore backup {names}; resuming from the previous backup "
                f"{os.path.basename(path)} instead")
        if self.chief:
            damaged = self._set_aside([p for p, _ in failed], path)
            note += f" (the damaged files are moved to {damaged})"
        self.restore_notes.append(note + ".")
        self.log(note + ".")

    def _unusable(self, failed):
        names = ", ".join(f"{os.path.basename(p)} ({reason})" for p, reason in failed)
        return (f"No usable backup in {self.directory}: {names}. To start fresh, delete "
                f"{self.directory} (training restarts at step 0) or use a new --model_dir.")

    def _set_aside(self, bad, good):
        """Moves the damaged backups' files to backup/damaged/ and rewrites the checkpoint state
        to list only what is left, `good` the latest; returns the damaged folder.

        CheckpointManager deletes the oldest listed backup when a save makes more than KEEP: a
        damaged backup still listed would outlive the good one it pushed out."""
        damaged = os.path.join(self.directory, "damaged")
        tf.io.gfile.makedirs(damaged)
        for prefix in bad:
            for name in tf.io.gfile.glob(prefix + ".*"):
                tf.io.gfile.rename(name, os.path.join(damaged, os.path.basename(name)),
                                   overwrite=True)
        kept = [p for p in reversed(self.backups()) if p not in bad]  # oldest first, `good` last
        now = time.time()
        # The manager's own state writer (public tf.compat.v1.train.update_checkpoint_state is
        # deprecated, warns, and writes absolute paths). Timestamps after
        # last_preserved_timestamp: the manager goes on rotating the listed backups; without them
        # it would forget them and leave them forever.
        checkpoint_management.update_checkpoint_state_internal(
            self.directory, good, all_model_checkpoint_paths=kept, save_relative_paths=True,
            all_model_checkpoint_timestamps=[now] * len(kept), last_preserved_timestamp=now - 1)
        self.manager = self._manager()
        return damaged

    def save(self, step):
        path = self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)
        self.latest = path
        return path


def save_weights(model, path):
    """Writes weights atomically, so that a kill during the write keeps the previous file."""
    tmp = path[: -len(".weights.h5")] + ".tmp.weights.h5"
    model.save_weights(tmp)
    os.replace(tmp, path)

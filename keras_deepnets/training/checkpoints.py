"""Backups for resuming after a crash or `kill -9`, and best/last weights.

The backup (model_dir/backup) is a tf.train.Checkpoint of the model, the optimizer (its
iteration count is the global step), the completed epochs and the step inside the current epoch:
what the loop needs to continue mid-epoch. The input position is not saved: each epoch's input
is rebuilt from seed + epoch and the consumed batches are skipped (a tf.data iterator checkpoint
would store whole shuffle buffers of decoded images).

Under MultiWorkerMirroredStrategy every worker must save; workers other than the chief write to
a temporary folder that is deleted right away (the pattern of Keras's BackupAndRestore), and all
workers restore from the chief's folder, so model_dir must be on a shared file system there.
"""

import os
import shutil

import tensorflow as tf

from keras_deepnets.training.strategy import is_chief


class Backup:
    def __init__(self, model_dir, strategy, **trackables):
        self.chief = is_chief(strategy)
        self.directory = os.path.join(model_dir, "backup")
        write_dir = self.directory
        if not self.chief:
            resolver = strategy.cluster_resolver
            write_dir = os.path.join(model_dir, f".backup_tmp_{resolver.task_type}_{resolver.task_id}")
        self.write_dir = write_dir
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, write_dir, max_to_keep=2)

    def latest(self):
        return tf.train.latest_checkpoint(self.directory)

    def restore(self):
        """Restores the latest backup if there is one; returns its path or None."""
        path = self.latest()
        if path:
            self.checkpoint.restore(path).expect_partial()
        return path

    def save(self, step):
        path = self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)
        return path


def save_weights(model, path):
    """Writes weights atomically, so that a kill during the write keeps the previous file."""
    tmp = path[: -len(".weights.h5")] + ".tmp.weights.h5"
    model.save_weights(tmp)
    os.replace(tmp, path)


"""Publishes a preset folder (kd.save_preset's) to the Hugging Face Hub with huggingface_hub's
upload API: HfApi.create_repo, create_branch for --revision, upload_folder. The folder is
checked first (every file against its manifest.json); --dry_run prints the calls it would make
and uploads nothing. The token: HF_TOKEN or `huggingface-cli login`.

    python scripts/push_weights.py --preset=presets/flowers-r50 --repo_id=team/flowers-r50 \
        --revision=v1 --commit_message="3 epochs, 93% on the held-out photos"

It prints the pinned handle to load it with: weights="hf://team/flowers-r50@<commit>".
"""

import os

os.environ.setdefault("KERAS_DEEPNETS_QUIET_TF", "1")  # read by the import below
import keras_deepnets  # noqa: F401  (first: starts TensorFlow without its C++ logs)

import json
import sys

from absl import app, flags

from keras_deepnets.weights import presets

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", None, "The preset folder (kd.save_preset's).")
flags.DEFINE_string("repo_id", None, "The Hub repository: <owner>/<name>.")
flags.DEFINE_string("revision", None, "A branch to upload to (created if missing); default "
                    "main.")
flags.DEFINE_string("commit_message", None, "Default: the model and its measured top-1.")
flags.DEFINE_bool("private", False, "Create the repository private.")
flags.DEFINE_bool("dry_run", False, "Check the folder and print the calls; upload nothing.")


def main(argv):
    del argv
    if not FLAGS.preset or not FLAGS.repo_id:
        print("error: --preset and --repo_id are required (e.g. --preset=presets/r50 "
              "--repo_id=team/r50)", file=sys.stderr)
        return 2
    args = (FLAGS.preset, FLAGS.repo_id, FLAGS.revision, FLAGS.commit_message, FLAGS.private)
    try:
        if FLAGS.dry_run:
            for method, kwargs in presets.upload_plan(*args):
                print(f"HfApi.{method}({json.dumps(kwargs, sort_keys=True)})")
            return 0
        handle = presets.push_preset(*args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the Hub's own errors (authentication, permissions)
        print(f"error: uploading to {FLAGS.repo_id} failed: {type(error).__name__}: "
              f"{str(error).splitlines()[0] if str(error) else ''}", file=sys.stderr)
        return 1
    print(f"Published. Load it with weights={handle!r}")
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))

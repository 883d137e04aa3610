"""Weights files fetched ahead of use, for a machine without internet (`prefetch`)."""

import sys

from keras_deepnets import registry
from keras_deepnets.weights import argument, loading, table


def prefetch(models, tags=("imagenet",), convert=False, verbose=True):
    """Downloads (and verifies) the files of `tags` for `models` into the cache, for a machine
    without internet to use (copy the cache folder, or serve its downloads/ as a mirror).
    keras.applications' rows fetch both files (with and without the classifier); `convert`
    also builds each model with its classifier and caches the converted weights. Returns
    [(model, tag, path)]; a tag a model lacks is skipped (it says so) unless it is the only
    one asked for."""
    done = []
    for model in models:
        name = registry.model_info(model).name
        for tag in tags:
            try:
                row = argument.resolve_weights(tag, (name,)).row
            except table.WeightsError as error:
                if len(tags) == 1:
                    raise
                print(f"skipped: {error}", file=sys.stderr)
                continue
            for include_top in ((True, False) if row.file_notop else (True,)):
                # into our own downloads/ (not keras' cache): the folder to copy or mirror
                done.append((name, row.tag, loading.fetch_file(row, include_top, verbose, False)))
            if convert:
                registry.get_model(name, weights=tag)
    return done

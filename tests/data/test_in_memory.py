"""CIFAR decoded once per process and augmented by the batch (`load(cache=True)`): the same
augmentation as the per-image path (ResNet 4.2: pad 4, random 32 crop, flip), every image once
per epoch, sharding, seeds and the fall-back for images of another size."""

import collections
import shutil

import numpy as np
import pytest
import tensorflow as tf

from imagetools import Image, encode
from keras_deepnets import data
from keras_deepnets.data import augment, in_memory, sources

PAD = 4


def _candidates(image, mean):
    """Every crop/flip the preset may draw from one uint8 image, as exact float32 bytes ->
    (dy, dx, flip): numpy's own pad, slice and flip of the normalised image."""
    padded = np.pad(image.astype(np.float32) - mean, [(PAD, PAD), (PAD, PAD), (0, 0)])
    out = {}
    for dy in range(2 * PAD + 1):
        for dx in range(2 * PAD + 1):
            crop = padded[dy:dy + 32, dx:dx + 32]
            out[np.ascontiguousarray(crop).tobytes()] = (dy, dx, False)
            out[np.ascontiguousarray(crop[:, ::-1]).tobytes()] = (dy, dx, True)
    return out


@pytest.fixture(scope="module")
def decoded(small_cifar):
    source = sources.resolve(small_cifar, "train")
    images = np.stack([tf.io.decode_jpeg(tf.io.read_file(p), channels=3).numpy()
                       for p in source.paths])
    return source, images, np.asarray(source.labels)


@pytest.fixture(scope="module")
def mean(small_cifar):
    return data.cifar_mean(small_cifar)


def _lookup(images, mean):
    """Bytes of every possible training crop -> (index of the source image, dy, dx, flip)."""
    table = {}
    for i, image in enumerate(images):
        for key, how in _candidates(image, mean).items():
            table[key] = (i, *how)
    return table


def test_batch_crops_are_the_per_image_crops_all_drawn_independently(decoded, mean):
    _, images, _ = decoded
    preset = augment.get_preset("cifar_train", mean=mean)
    batch = np.resize(images[:8], (4096, 32, 32, 3))  # each image 512 times
    bits = tf.random.stateless_uniform([4096], [3, 4], minval=None, maxval=None, dtype=tf.int64)
    out = preset.batch_from_pixels(tf.constant(batch), bits).numpy()
    table = _lookup(images[:8], mean)
    drawn = [table.get(np.ascontiguousarray(x).tobytes()) for x in out]
    assert None not in drawn, "an output is not a padded crop (or its flip) of an input"
    assert [d[0] for d in drawn] == [i % 8 for i in range(4096)]  # each row is its own image
    counts = collections.Counter(d[1:] for d in drawn)
    assert len(counts) == 2 * (2 * PAD + 1) ** 2  # all 81 offsets, flipped and not
    assert max(counts.values()) < 3 * 4096 / len(counts)
    assert 0.45 < np.mean([d[3] for d in drawn]) < 0.55
    again = preset.batch_from_pixels(tf.constant(batch), bits).numpy()
    np.testing.assert_array_equal(out, again)  # the draws decide, nothing else


def test_batch_eval_is_the_per_image_eval(decoded, mean):
    source, images, _ = decoded
    preset = augment.get_preset("cifar_eval", mean=mean)
    batch = preset.batch_from_pixels(tf.constant(images[:16]), tf.range(16, dtype=tf.int64))
    for image, path, got in zip(images, source.paths, batch.numpy()):
        np.testing.assert_array_equal(got, preset.from_pixels(image, [0, 0]).numpy())
        np.testing.assert_array_equal(got, preset(tf.io.read_file(path), [0, 0]).numpy())


def test_cached_epoch_shows_every_image_once_with_its_label(small_cifar, decoded, mean):
    _, images, labels = decoded
    table = _lookup(images, mean)
    ds = data.load(small_cifar, "train", preset="cifar_train", batch_size=16, seed=5,
                   cache=True)
    seen, drawn = [], []
    for x, y in ds:
        for image, label in zip(x.numpy(), y.numpy()):
            index, *how = table[np.ascontiguousarray(image).tobytes()]
            assert labels[index] == label
            seen.append(index)
            drawn.append(tuple(how))
    assert sorted(seen) == list(range(len(images)))
    assert seen != sorted(seen)  # shuffled
    assert len(set(drawn)) > 40  # crops differ from image to image


def test_cached_order_and_crops_follow_the_seed_and_change_per_epoch(small_cifar):
    def epochs(seed, n=2):
        ds = data.load(small_cifar, "train", preset="cifar_train", batch_size=40, seed=seed,
                       cache=True, repeat=True)
        return [x.numpy() for x, _ in ds.take(3 * n)]

    first, again, other = epochs(1), epochs(1), epochs(2)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(np.concatenate(first[:3]), np.concatenate(first[3:]))


def test_augmentation_does_not_depend_on_the_batch_size(small_cifar):
    """One device's batch of 40 and two replicas' 20 each must see the same crops (the
    Mirrored-vs-one-device training test relies on it)."""
    def stream(batch_size):
        ds = data.load(small_cifar, "train", preset="cifar_train", batch_size=batch_size,
                       seed=4, cache=True, repeat=True)
        return np.concatenate([x.numpy() for x, _ in ds.take(240 // batch_size)])

    np.testing.assert_array_equal(stream(40), stream(20))


def test_decoded_once_per_process(small_cifar, monkeypatch):
    """Every epoch's `load` (a new seed each) reuses the first one's decoded copy."""
    in_memory.clear()
    calls = []
    real_decode_all = in_memory._decode_all

    def counting(*args, **kwargs):
        calls.append(args)
        return real_decode_all(*args, **kwargs)

    monkeypatch.setattr(in_memory, "_decode_all", counting)
    for epoch in range(3):
        ds = data.load(small_cifar, "train", preset="cifar_train", batch_size=8, seed=epoch,
                       cache=True)
        assert sum(int(tf.size(y)) for _, y in ds) == 120
    assert len(calls) == 1
    copy = in_memory.decoded(sources.resolve(small_cifar, "train"), (32, 32))
    assert copy[0].dtype == tf.uint8 and copy[0].shape == (120, 32, 32, 3)
    assert len(calls) == 1


def test_cached_eval_equals_the_uncached_pipeline(small_cifar):
    common = dict(preset="cifar_eval", batch_size=7, shuffle=False)
    plain = list(data.load(small_cifar, "test", **common))
    cached = list(data.load(small_cifar, "test", cache=True, **common))
    assert len(plain) == len(cached) == 6
    for (a, ya), (b, yb) in zip(plain, cached):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_shards_split_the_images_between_input_pipelines(small_cifar, decoded, mean):
    _, images, _ = decoded
    table = _lookup(images, mean)
    shares = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        ds = data.load(small_cifar, "train", preset="cifar_train", batch_size=16, seed=0,
                       cache=True, input_context=context)
        shares.append({table[np.ascontiguousarray(x).tobytes()][0]
                       for batch, _ in ds for x in batch.numpy()})
    assert not shares[0] & shares[1]
    assert shares[0] | shares[1] == set(range(len(images)))


def test_subset_is_the_per_image_paths_subset(small_cifar, decoded, mean):
    _, images, labels = decoded
    table = _lookup(images, mean)

    def subset(cache):
        ds = data.load(small_cifar, "train", preset="cifar_train", batch_size=10, seed=3,
                       max_examples=30, subset_seed=11, cache=cache)
        return sorted(table[np.ascontiguousarray(x).tobytes()][0]
                      for batch, _ in ds for x in batch.numpy())

    picked = subset(True)
    assert len(picked) == 30 == len(set(picked))
    assert picked == subset(False)


def test_images_of_another_size_take_the_per_image_path(small_cifar, tmp_path):
    if Image is None:
        pytest.skip("pillow is needed")
    root = tmp_path / "mixed"
    shutil.copytree(small_cifar / "train", root)
    odd = np.asarray(Image.open(sorted((root / "airplane").iterdir())[0]).resize((40, 40)))
    (root / "airplane" / "zz_big.png").write_bytes(encode(odd, "PNG"))
    in_memory.clear()
    ds = data.load(root, preset="cifar_train", batch_size=11, seed=0, cache=True,
                   preset_options={"mean": np.zeros((32, 32, 3), np.float32)})
    shapes = [x.shape for x, _ in ds]
    assert sum(s[0] for s in shapes) == 121 and {s[1:] for s in shapes} == {(32, 32, 3)}
    assert in_memory.decoded(sources.resolve(root), (32, 32)) is None

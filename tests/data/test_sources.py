"""Sources: labels from image folders, labels files, TFRecords and TFDS agree; clear errors."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_deepnets import data
from keras_deepnets.data import sources, tfrecords

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def raw_examples(source, **kwargs):
    """{encoded bytes: label} of a source."""
    return {b: int(y) for b, y in source.records(**kwargs).as_numpy_iterator()}


def test_folder_labels_are_sorted_wnid_indices(imagenet_sample_dir):
    info = data.describe(imagenet_sample_dir)
    assert (info.source, info.num_classes, info.num_examples) == ("folder", 1000, 1000)
    assert info.class_names == sorted(info.class_names) and info.class_names[0] == "n01440764"
    source = sources.resolve(imagenet_sample_dir)
    for path, label in zip(source.paths[::97], source.labels[::97]):
        assert info.class_names[label] == os.path.basename(os.path.dirname(path))


def test_split_folders_and_aliases(cifar10_dir):
    for split in ("test", "val", "validation"):
        info = data.describe(cifar10_dir, split)
        assert info.num_examples == 10_000 and info.split == "test"
    assert data.describe(cifar10_dir, "test").class_names[:3] == ["airplane", "automobile", "bird"]
    with pytest.raises(FileNotFoundError, match="available splits"):
        data.describe(cifar10_dir, "holdout")
    with pytest.raises(ValueError, match="pass split="):
        data.describe(cifar10_dir)


def test_eval_split_uses_train_class_index(small_cifar, tmp_path):
    """A class missing from val must not shift the labels of the classes after it."""
    root = tmp_path / "d"
    shutil.copytree(small_cifar, root)
    shutil.rmtree(root / "test" / "automobile")
    source = sources.resolve(root, "test")
    assert source.class_names == sorted(os.listdir(small_cifar / "train"))
    for path, label in zip(source.paths, source.labels):
        assert source.class_names[label] == os.path.basename(os.path.dirname(path))
    assert 1 not in source.labels


@pytest.mark.parametrize("form", ["one_per_line", "file_label", "wnid", "one_based"])
def test_flat_folder_with_labels_file(small_imagenet, tmp_path, form):
    """ILSVRC2012 validation layout: images in one folder, labels in a file."""
    train = sources.resolve(small_imagenet)
    root = tmp_path / "imagenet"
    shutil.copytree(small_imagenet, root / "train")
    (root / "val").mkdir()
    # Val file names in the ILSVRC style, in an order unrelated to the classes.
    order = np.random.default_rng(0).permutation(len(train.paths))
    expected = {}
    for k, i in enumerate(order):
        name = f"ILSVRC2012_val_{k + 1:08d}.JPEG"
        shutil.copy(train.paths[i], root / "val" / name)
        expected[name] = train.labels[i]
    names = sorted(expected)
    lines = {"one_per_line": [str(expected[n]) for n in names],
             "file_label": [f"{n} {expected[n]}" for n in reversed(names)],
             "wnid": [train.class_names[expected[n]] for n in names],
             "one_based": [str(expected[n] + 1) for n in names]}[form]
    labels_file = root / ("val_labels.txt" if form == "one_based" else "val/labels.txt")
    labels_file.write_text("\n".join(lines) + "\n")
    kwargs = {"labels_file": str(labels_file), "label_offset": 1} if form == "one_based" else {}
    source = sources.resolve(root, "validation", **kwargs)
    assert source.class_names == train.class_names
    got = {os.path.basename(p): y for p, y in zip(source.paths, source.labels)}
    assert got == expected


def test_labels_file_errors(small_imagenet, tmp_path):
    folder = tmp_path / "val"
    folder.mkdir()
    for p in sorted(small_imagenet.rglob("*.JPEG"))[:3]:
        shutil.copy(p, folder / p.name)
    with pytest.raises(FileNotFoundError, match="labels file"):
        sources.resolve(folder)
    (folder / "labels.txt").write_text("0\n1\n")
    with pytest.raises(ValueError, match="2 lines but .* 3 image files"):
        sources.resolve(folder)
    (folder / "labels.txt").write_text("1\n2\n3\n")
    with pytest.raises(ValueError, match="label_offset=1"):
        data.files.read_labels_file(str(folder / "labels.txt"), str(folder), ["a", "b", "c"])
    source = sources.resolve(folder, label_offset=1)
    assert source.labels == [0, 1, 2]


def test_tfrecord_round_trip_and_resume(small_imagenet, tmp_path):
    out = tmp_path / "records"
    script = os.path.join(REPO, "scripts", "make_tfrecords.py")
    cmd = [sys.executable, script, f"--data={small_imagenet}", f"--output_dir={out}",
           "--splits=train", "--num_shards=3"]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "3 written, 0 skipped" in run.stdout
    folder = sources.resolve(small_imagenet)
    for source in (sources.resolve(out, "train"), sources.resolve(str(out / "train-*"))):
        assert source.kind == "tfrecord" and source.class_names == folder.class_names
        assert source.count() == folder.count()
        assert raw_examples(source) == raw_examples(folder)
    # Resuming: complete shards are kept, a missing one is rewritten.
    os.remove(out / tfrecords.shard_name("train", 1, 3))
    paths, written = tfrecords.write_tfrecords(small_imagenet, out, "train", num_shards=3)
    assert written == 1 and all(os.path.isfile(p) for p in paths)
    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(paths[0]))).numpy())
    feature = example.features.feature
    label = feature["image/class/label"].int64_list.value[0]
    assert feature["image/class/text"].bytes_list.value[0].decode() == folder.class_names[label]
    assert feature["image/format"].bytes_list.value[0] == b"JPEG"


def test_foreign_tfrecords_without_info_file(small_imagenet, tmp_path):
    """Shards from TF's own tools (1-based labels, no dataset_info.json): label_offset=1."""
    folder = sources.resolve(small_imagenet)
    path = str(tmp_path / "shard.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for p, y in zip(folder.paths, folder.labels):
            writer.write(tfrecords.example(p, y + 1, folder.class_names[y]).SerializeToString())
    source = sources.resolve(path, label_offset=1)
    assert source.count() == len(folder.paths) and len(source.class_names) == 8
    assert raw_examples(source) == raw_examples(folder)


@pytest.fixture(scope="module")
def tfds_dir(small_cifar, tmp_path_factory):
    """A real TFDS dataset ('kd_small_cifar') prepared from the CIFAR JPEGs, offline."""
    import tensorflow_datasets as tfds

    class KdSmallCifar(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(32, 32, 3), encoding_format="jpeg"),
                "label": tfds.features.ClassLabel(
                    names=sorted(os.listdir(small_cifar / "train")))}))

        def _split_generators(self, dl_manager):
            return {s: self._generate_examples(small_cifar / s) for s in ("train", "test")}

        def _generate_examples(self, folder):
            for cls in sorted(os.listdir(folder)):
                for f in sorted(os.listdir(folder / cls)):
                    yield f"{cls}/{f}", {"image": str(folder / cls / f), "label": cls}

    data_dir = tmp_path_factory.mktemp("tfds")
    KdSmallCifar(data_dir=str(data_dir)).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return data_dir


def test_tfds_by_name_same_labels_as_folder(tfds_dir, small_cifar):
    info = data.describe("kd_small_cifar", "validation", data_dir=tfds_dir)
    assert (info.source, info.num_examples, info.num_classes) == ("tfds", 40, 10)
    tfds_source = sources.resolve("kd_small_cifar", "test", data_dir=str(tfds_dir))
    folder = sources.resolve(small_cifar, "test")
    tfds_examples, folder_examples = raw_examples(tfds_source), raw_examples(folder)
    if set(tfds_examples) == set(folder_examples):  # TFDS kept the JPEG bytes as they were
        assert tfds_examples == folder_examples
    else:  # compare decoded pixels instead
        def by_pixels(examples):
            return {tf.io.decode_jpeg(b).numpy().tobytes(): y for b, y in examples.items()}
        assert by_pixels(tfds_examples) == by_pixels(folder_examples)
    images, labels = next(iter(data.load("kd_small_cifar", "train", data_dir=str(tfds_dir),
                                         preset="cifar_eval", batch_size=8)))
    assert images.shape == (8, 32, 32, 3) and labels.dtype == tf.int32


def test_tfds_manual_download_gives_instructions_without_download(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.load("imagenet2012", "train", data_dir=str(tmp_path))
    message = str(err.value)
    assert "not prepared" in message and "manual" in message.lower()
    assert "ILSVRC2012_img_train.tar" in message and "\n" not in message
    assert not any(tmp_path.rglob("*.tar")) and not (tmp_path / "downloads" / "extracted").exists()
    # download=False: the same kind of line for a dataset TFDS could download.
    with pytest.raises(FileNotFoundError, match="tfds build cifar10"):
        data.describe("cifar10", "train", data_dir=str(tmp_path), download=False)


@pytest.mark.parametrize("bad", ["no_such_dataset_xyz", "/no/such/folder", "./relative/missing",
                                 "/tmp/none-*.tfrecord", 42])
def test_bad_data_argument(bad):
    with pytest.raises((ValueError, FileNotFoundError), match="TFDS name|TFRecord"):
        data.describe(bad, "train")

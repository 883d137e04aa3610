"""SavedModel export: the float signature equals the Keras model; the bytes signature equals the
input pipeline's preprocessing done in Python; bad requests fail the request, not the caller."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_deepnets
from keras_deepnets import data, export
from keras_deepnets.data import sources


def test_serving_default_equals_keras(resnet20_exports, reference_outputs, cifar_test):
    function = export.load_signature(resnet20_exports["saved_model"])
    outputs = export.saved_model.predict_saved_model(function, cifar_test[0])
    assert np.max(np.abs(outputs - reference_outputs)) <= 1e-5


def test_cifar_bytes_signature_matches_pipeline(resnet20_exports, trained_resnet20, cifar10_dir,
                                                cifar_preset):
    records = sources.resolve(str(cifar10_dir), "test").records(max_examples=200, seed=1)
    encoded, labels = zip(*records.as_numpy_iterator())
    images = data.load(str(cifar10_dir), "test", preset=cifar_preset, batch_size=200,
                       max_examples=200, seed=1)
    python_images, python_labels = next(iter(images))
    np.testing.assert_array_equal(python_labels, labels)  # the same photos, in the same order
    expected = trained_resnet20.predict(python_images, verbose=0)
    classify = export.load_signature(resnet20_exports["saved_model"], export.CLASSIFY_BYTES)
    result = classify(image_bytes=tf.constant(encoded))
    np.testing.assert_array_equal(result["classes"][:, 0], expected.argmax(-1))
    np.testing.assert_allclose(result["probabilities"][:, 0], expected.max(-1), atol=1e-5)
    assert result["classes"].shape == (200, 5)
    names = [n.decode() for n in result["class_names"][:3, 0].numpy()]
    assert names == [sources.resolve(str(cifar10_dir), "train").class_names[i]
                     for i in result["classes"][:3, 0]]


@pytest.fixture(scope="module")
def imagenet_export(tmp_path_factory, randomise_bn):
    keras.utils.set_random_seed(0)  # the same random net every run: the test cannot flake
    model = keras_deepnets.get_model("resnet18")
    randomise_bn(model, seed=0)
    path = export.export_saved_model(model, tmp_path_factory.mktemp("resnet18") / "1")
    return model, path


@pytest.mark.slow
def test_jpeg_signature_matches_python_preprocessing(imagenet_export, imagenet_sample_dir):
    """100 real photos of the ImageNet sample (sizes vary): decoded, resized, centre-cropped and
    normalised in the graph vs the input pipeline's imagenet_eval preset run eagerly."""
    model, path = imagenet_export
    folder, count = str(imagenet_sample_dir), 100
    encoded, _ = zip(*sources.resolve(folder).records(max_examples=count, seed=0)
                     .as_numpy_iterator())
    # The evaluation preset, called eagerly image by image (no graph, no tf.data).
    preset, seed = data.get_preset("imagenet_eval"), tf.constant([0, 0], tf.int64)
    images = np.stack([preset(tf.constant(b), seed).numpy() for b in encoded])
    expected = model.predict(images, batch_size=25, verbose=0)
    # A random deep net's top-1 collapses onto a few classes, so the check also compares the
    # top-5 classes and their probabilities, which vary from photo to photo.
    top5 = np.argsort(-expected, axis=-1)[:, :5]
    assert len({tuple(row) for row in top5}) >= 20 and expected.max(-1).std() > 1e-3
    classify = export.load_signature(path, export.CLASSIFY_BYTES)
    results = [classify(image_bytes=tf.constant(encoded[i:i + 25])) for i in range(0, count, 25)]
    classes = np.concatenate([r["classes"] for r in results])
    probabilities = np.concatenate([r["probabilities"] for r in results])
    np.testing.assert_array_equal(classes[:, 0], expected.argmax(-1))
    np.testing.assert_allclose(probabilities, np.take_along_axis(expected, classes, -1),
                               atol=1e-5)


def test_imagenet_class_names_and_outputs(imagenet_export, imagenet_sample_dir):
    _, path = imagenet_export
    photo = next((imagenet_sample_dir / "n01440764").iterdir()).read_bytes()
    result = export.load_signature(path, export.CLASSIFY_BYTES)(image_bytes=tf.constant([photo]))
    assert sorted(result) == ["class_names", "classes", "probabilities"]
    assert result["class_names"].shape == (1, 5)
    probabilities = result["probabilities"].numpy()[0]
    assert np.all(np.diff(probabilities) <= 0) and 0 < probabilities.sum() <= 1 + 1e-6


def test_wrong_image_size_is_a_clear_error(resnet20_exports, cifar_test):
    function = export.load_signature(resnet20_exports["saved_model"])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must have shape "
                       r"\[batch, 32, 32, 3\]; got \[2 64 64 3\]"):
        function(images=tf.zeros([2, 64, 64, 3]))
    with pytest.raises(export.ExportError, match=r"takes images of shape \[batch, 32, 32, 3\]"):
        export.saved_model.predict_saved_model(function, np.zeros([1, 28, 28, 3]))
    # The caller is still serving.
    assert function(images=tf.constant(cifar_test[0][:2]))["predictions"].shape == (2, 10)


def test_garbage_bytes_fail_the_request_not_the_server(resnet20_exports, cifar10_dir):
    classify = export.load_signature(resnet20_exports["saved_model"], export.CLASSIFY_BYTES)
    photo = next((cifar10_dir / "test" / "cat").iterdir()).read_bytes()
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"image_bytes\[1\] is not a JPEG, PNG, GIF or BMP image"):
        classify(image_bytes=tf.constant([photo, b"definitely not an image"]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        classify(image_bytes=tf.constant([photo[: len(photo) // 3]]))  # a truncated JPEG
    assert classify(image_bytes=tf.constant([photo]))["classes"].shape == (1, 5)


def test_png_bytes_work(resnet20_exports, cifar10_dir, trained_resnet20, cifar_preset):
    photo = next((cifar10_dir / "test" / "ship").iterdir()).read_bytes()
    png = tf.io.encode_png(tf.io.decode_jpeg(photo, channels=3)).numpy()
    classify = export.load_signature(resnet20_exports["saved_model"], export.CLASSIFY_BYTES)
    from_png = classify(image_bytes=tf.constant([png]))
    from_jpeg = classify(image_bytes=tf.constant([photo]))
    np.testing.assert_array_equal(from_png["classes"], from_jpeg["classes"])


def test_cifar_auto_without_mean_exports_float_signature_only(trained_resnet20, tmp_path):
    path = export.export_saved_model(trained_resnet20, tmp_path / "1")
    assert list(tf.saved_model.load(path).signatures) == [export.SERVING_DEFAULT]


def test_bad_arguments(trained_resnet20, tmp_path):
    with pytest.raises(export.ExportError, match="3 class names for a model with 10 outputs"):
        export.export_saved_model(trained_resnet20, tmp_path / "a", class_names=["a", "b", "c"])
    with pytest.raises(export.ExportError, match="Unknown preprocessing 'bgr'"):
        export.export_saved_model(trained_resnet20, tmp_path / "b", preprocessing="bgr")
    with pytest.raises(export.ExportError, match="cifar_eval subtracts the training split's mean"):
        export.export_saved_model(trained_resnet20, tmp_path / "c", preprocessing="cifar_eval")
    with pytest.raises(export.ExportError, match="augments at random"):
        export.export_saved_model(trained_resnet20, tmp_path / "d",
                                  preprocessing=data.get_preset("cifar_train", mean=np.zeros(
                                      [32, 32, 3])))
    with pytest.raises(export.ExportError, match="holds no SavedModel"):
        export.load_signature(str(tmp_path))

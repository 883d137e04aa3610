"""preprocess_input and decode_predictions on the real ImageNet sample."""

import numpy as np
import pytest

import keras_deepnets as kd
from keras_deepnets.preprocessing import imagenet_wnids


def test_wnids_are_the_sorted_class_folders(imagenet_sample_dir):
    folders = sorted(p.name for p in imagenet_sample_dir.iterdir() if p.is_dir())
    assert imagenet_wnids() == folders  # class index = position of the wnid folder
    assert folders[0] == "n01440764"  # tench


def test_decode_predictions_returns_the_class_of_each_index(imagenet_sample_dir):
    folders = sorted(p.name for p in imagenet_sample_dir.iterdir() if p.is_dir())
    rng = np.random.default_rng(0)
    classes = rng.choice(1000, size=8, replace=False)
    preds = rng.uniform(0, 0.1, size=(8, 1000))
    preds[np.arange(8), classes] = 0.9
    decoded = kd.decode_predictions(preds, top=3)
    assert [row[0][0] for row in decoded] == [folders[c] for c in classes]
    assert all(len(row) == 3 and row[0][2] >= row[1][2] >= row[2][2] for row in decoded)


def test_decode_predictions_rejects_other_shapes():
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        kd.decode_predictions(np.zeros((2, 10)))


def test_preprocess_input_caffe_mode_is_bgr_mean_subtraction():
    x = np.array([[[[10.0, 20.0, 30.0]]]], dtype="float32")
    y = kd.preprocess_input(x.copy())
    np.testing.assert_allclose(y[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-6)
    z = kd.preprocess_input(x.copy(), mode="torch")
    np.testing.assert_allclose(z[0, 0, 0], (x[0, 0, 0] / 255 - [0.485, 0.456, 0.406])
                               / [0.229, 0.224, 0.225], rtol=1e-5)
    with pytest.raises(ValueError, match="mode must be one of"):
        kd.preprocess_input(x, mode="bgr")

"""Export test fixtures: a ResNet-20 trained briefly on real CIFAR-10 images (once per session)
and its exports. Random weights would give near-uniform outputs whose top-1 means nothing, so
the fidelity targets are measured on a model that has learnt something."""

import os
import sys

import numpy as np
import pytest

import keras
import keras_deepnets
from keras_deepnets import data, export

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for `import export_helpers`

TRAIN_IMAGES = 5000
TEST_IMAGES = 2000


@pytest.fixture(scope="session")
def cifar_preset(cifar10_dir):
    """The cifar_eval preset with the real training split's mean image."""
    return data.get_preset("cifar_eval", mean=data.cifar_mean(str(cifar10_dir)))


def _arrays(folder, split, preset, count):
    batches = data.load(str(folder), split, preset=preset, batch_size=500, max_examples=count,
                        seed=0, shuffle=False)
    images, labels = zip(*batches.as_numpy_iterator())
    return np.concatenate(images), np.concatenate(labels)


@pytest.fixture(scope="session")
def cifar_train(cifar10_dir, cifar_preset):
    return _arrays(cifar10_dir, "train", cifar_preset, TRAIN_IMAGES)


@pytest.fixture(scope="session")
def cifar_test(cifar10_dir, cifar_preset):
    return _arrays(cifar10_dir, "test", cifar_preset, TEST_IMAGES)


@pytest.fixture(scope="session")
def trained_resnet20(cifar_train, cifar_test):
    """ResNet-20 after 2 epochs of SGD on 5,000 training images (~40 % test accuracy): enough
    for confident, input-dependent predictions."""
    images, labels = cifar_train
    keras.utils.set_random_seed(0)
    model = keras_deepnets.get_model("resnet20")
    epochs, batch = 2, 64
    schedule = keras.optimizers.schedules.CosineDecay(0.1, epochs * -(-len(images) // batch))
    model.compile(keras.optimizers.SGD(schedule, momentum=0.9, weight_decay=5e-4),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, batch_size=batch, epochs=epochs, verbose=0)
    accuracy = model.evaluate(*cifar_test, batch_size=500, verbose=0)[1]
    assert accuracy > 0.3, f"the briefly trained ResNet-20 did not learn ({accuracy:.3f})"
    return model


@pytest.fixture(scope="session")
def reference_outputs(trained_resnet20, cifar_test):
    return trained_resnet20.predict(cifar_test[0], batch_size=500, verbose=0)


@pytest.fixture(scope="session")
def resnet20_exports(trained_resnet20, cifar_train, cifar_preset, tmp_path_factory):
    """SavedModel (with the CIFAR bytes signature) and the four TFLite files, through the same
    `export_model` the script and the training scripts use; int8 calibrated on training images."""
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    return export.export_model(
        trained_resnet20, tmp_path_factory.mktemp("resnet20_export"),
        formats=["saved_model", "tflite"], quantize=list(export.QUANTIZE_MODES),
        representative_data=cifar_train[0], preprocessing=cifar_preset, class_names=names)

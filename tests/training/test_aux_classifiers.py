"""GoogLeNet's auxiliary classifiers through the training core: trained with the paper's loss,
scored, evaluated again (--eval_only) and exported without them."""

import keras
import pytest

from keras_deepnets import training
from keras_deepnets.training.strategy import ConfigError


def test_googlenet_trains_with_aux_heads_and_exports_without(cifar10_dir, tmp_path):
    result = training.train(model="googlenet_torchvision", aux_classifiers=True,
                            data=cifar10_dir, image_size=64, max_examples=64,
                            max_val_examples=64, epochs=1, batch_size=16,
                            model_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "out"),
                            verbose=0)
    assert len(result.model.outputs) == 3  # the training model
    last = result.history[-1]
    assert last["val_examples"] == 64 and 0 <= last["val_top1"] <= 1
    exported = keras.models.load_model(tmp_path / "out" / "googlenet_torchvision.keras")
    assert len(exported.outputs) == 1 and exported.output_shape == (None, 10)
    again = training.evaluate(model="googlenet_torchvision", aux_classifiers=True,
                              data=cifar10_dir, image_size=64, max_val_examples=64,
                              model_dir=str(tmp_path / "run"))
    assert again["top1"] == pytest.approx(last["val_top1"])
    with pytest.raises(ConfigError, match="aux_classifiers is for GoogLeNet"):
        training.train(model="resnet20", aux_classifiers=True, use_synthetic_data=True)

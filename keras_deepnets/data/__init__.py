"""Input pipelines for ImageNet and CIFAR: TFDS, TFRecords and image folders, with the papers'
augmentation (`augment`) and evaluation (`evaluation`) and a fast decode-and-crop path; and
LeNet-5's handwritten digits by the name "digits" (`digits`, no download).

    >>> from keras_deepnets import data
    >>> ds = data.load("path/to/imagenet", "train", preset="resnet_imagenet_train",
    ...                batch_size=256, seed=0)
"""

from keras_deepnets.data.augment import PRESETS, Preset, get_preset
from keras_deepnets.data.evaluation import (RESNET_SCALES, VGG_SCALES, evaluate_crops,
                                            fully_convolutional, ten_crop)
from keras_deepnets.data.files import BadImageError
from keras_deepnets.data.mean import cifar_mean
from keras_deepnets.data.pipeline import describe, load, synthetic
from keras_deepnets.data.sources import DatasetInfo

__all__ = ["load", "describe", "synthetic", "cifar_mean", "evaluate_crops", "ten_crop",
           "fully_convolutional", "get_preset", "Preset", "PRESETS", "RESNET_SCALES",
           "VGG_SCALES", "DatasetInfo", "BadImageError"]

"""keras_deepnets: the very deep ConvNets of VGG and ResNet as trainable, deployable Keras
models."""

__version__ = "0.1.0"

# First, before Keras imports TensorFlow: in Jupyter (or with KERAS_DEEPNETS_QUIET_TF=1),
# TensorFlow starts without its C++ start-up lines (keras_deepnets/startup.py says why).
from keras_deepnets import startup

if startup.wanted():
    startup.quiet_tensorflow()


from keras_deepnets.features import feature_extractor, feature_info
from keras_deepnets.models import *  # noqa: F401,F403  (the constructors)
from keras_deepnets.preprocessing import decode_predictions, preprocess_input
from keras_deepnets.registry import get_model, list_models, model_info, register_model
from keras_deepnets.stats import ModelStats, model_stats
from keras_deepnets.weights.keras_applications import from_keras_applications
from keras_deepnets.weights.presets import load_preset, save_preset
from keras_deepnets.weights.table import list_weights, register_weights, unregister_weights
from keras_deepnets.weights.torch_convert import from_torchvision

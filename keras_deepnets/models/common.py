"""What every constructor shares: keras.applications' 8-argument contract, checked up front."""

import contextlib
import functools
import sys

import keras

from keras_deepnets import registry
from keras_deepnets.models.layers import image_shape, resolve_data_format, split_shape
from keras_deepnets.weights import argument, converters, loading, presets, table

POOLINGS = (None, "avg", "max")


def check_pretrained(row, *, include_top, classes, classifier_activation, input_shape,
                     data_format=None):
    """What loading the weights of `row` asks of the other arguments."""
    weights = row.tag
    if include_top and classes != row.classes:
        raise ValueError(
            f"weights={weights!r} with include_top=True needs classes={row.classes}; got "
            f"classes={classes}. Use include_top=False to put your own classifier on the "
            "pretrained features, or fine-tune (scripts/train_imagenet.py "
            f"--init_weights={weights}), which starts a fresh classifier.")
    if classifier_activation not in (None, "softmax") and include_top:
        raise ValueError(
            f"With weights={weights!r}, classifier_activation must be None or 'softmax'; "
            f"got {classifier_activation!r}.")
    if input_shape is None or len(input_shape) != 3:
        return
    if split_shape(input_shape, data_format)[2] != 3:
        raise ValueError(
            f"weights={weights!r} needs 3 input channels (RGB); got input_shape={input_shape}.")
    flattens = row.model.startswith(("vgg", "alexnet"))
    if flattens and include_top and split_shape(input_shape, data_format) != (224, 224, 3):
        raise ValueError(f"weights={weights!r} with include_top=True needs input_shape "
                         f"{image_shape(224, 224, 3, data_format)} (the FC layers fix it); got "
                         f"{input_shape}.")


def check_contract(*, include_top, weights, input_shape, pooling, classes, classifier_activation,
                   weights_names, model_label):
    """Validates the contract's arguments before any layer is built; returns what `weights`
    names (`argument.resolve_weights`, in place).

    `weights_names` is keras.applications' registry name of this model's architecture (it has
    ImageNet weights for VGG16/19 and ResNet50/101/152 only) in a tuple, or ().
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of None, 'avg', 'max'; got {pooling!r}.")
    if not isinstance(include_top, bool):
        raise ValueError(f"include_top must be True or False; got {include_top!r}.")
    if include_top and (not isinstance(classes, int) or isinstance(classes, bool) or classes < 1):
        raise ValueError(f"classes must be a positive integer; got {classes!r}.")
    source = argument.resolve_weights(weights, weights_names, in_place=model_label)
    if source.row is not None:
        check_pretrained(source.row, include_top=include_top, classes=classes,
                         classifier_activation=classifier_activation, input_shape=input_shape)
    return source


@contextlib.contextmanager
def data_format_scope(data_format):
    """Keras layers (and ours) read the global image data format when they are made: a model
    is built under its own and the global one is restored after."""
    old = keras.config.image_data_format()
    keras.config.set_image_data_format(resolve_data_format(data_format))
    try:
        yield
    finally:
        keras.config.set_image_data_format(old)


def builds_in_data_format(init):
    """Decorates a model's `__init__` to take `data_format` (None: Keras's global
    `image_data_format`, as keras.applications reads it; keras-hub's backbones take the
    argument): the model is built under it and keeps it in its config.

    Not `functools.wraps`: Keras's `Operation.__new__` reads the signature through
    `__wrapped__` but the argument spec without it, and the two would disagree."""
    def wrapper(self, *args, data_format=None, **kwargs):
        fmt = resolve_data_format(data_format)
        with data_format_scope(fmt):
            init(self, *args, **kwargs)
        self._arch["data_format"] = fmt
    wrapper.__doc__, wrapper.__qualname__ = init.__doc__, init.__qualname__
    return wrapper


def make_input(input_tensor, input_shape, *, default_size, min_size, include_top, needs_static):
    """Returns the model's input tensor, checking the spatial size against the downsampling.

    `min_size` is the network's total stride: a smaller input would be pooled away to nothing.
    `needs_static`: the top flattens (VGG), so with include_top the size must be known.
    """
    if input_shape is None:
        if input_tensor is not None:
            input_shape = tuple(input_tensor.shape[1:])
        elif include_top or needs_static:
            input_shape = image_shape(default_size, default_size, 3)
        else:
            input_shape = image_shape(None, None, 3)
    input_shape = tuple(input_shape)
    height, width, channels = split_shape(input_shape)
    if channels is None or channels < 1:
        raise ValueError(f"input_shape needs a known channel count; got {input_shape}.")
    for dim in (height, width):
        if dim is not None and dim < min_size:
            raise ValueError(
                f"input_shape {input_shape} is too small: this network downsamples by {min_size}, "
                f"so height and width must be at least {min_size}."
            )
    if needs_static and include_top and (height is None or width is None):
        raise ValueError(
            f"With include_top=True this network flattens its features, so height and width must "
            f"be known; got input_shape={input_shape}."
        )
    if input_tensor is None:
        return keras.Input(shape=input_shape, name="input_layer"), None
    if not keras.backend.is_keras_tensor(input_tensor):
        return keras.Input(tensor=input_tensor, shape=input_shape), None
    return input_tensor, input_tensor


def classifier(x, *, classes, classifier_activation, name="predictions"):
    """The final dense layer (GoogLeNet's auxiliary heads: "aux1_predictions", ...). Under a
    mixed-precision policy it computes in float32, so that the softmax (and the loss after it)
    do not underflow in float16."""
    policy = keras.config.dtype_policy()
    dtype = "float32" if policy.compute_dtype in ("float16", "bfloat16") else None
    return keras.layers.Dense(classes, activation=classifier_activation, dtype=dtype,
                              name=name)(x)


def pool(x, pooling):
    """include_top=False's optional global pooling, named as in keras.applications."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def model_inputs(inputs, source):
    """The model's inputs: the source Input(s) behind a user's `input_tensor`, else our Input."""
    return keras.utils.get_source_inputs(source) if source is not None else inputs


def finish(model, source):
    """Loads the weights `source` (`check_contract`'s) names into a freshly built model: a
    weights table's row (whose preprocessing the model then records), or a `.weights.h5`
    file."""
    if source.row is not None:
        loading.load_row(model, source.row)
    elif source.kind == argument.FILE:
        loading.load_weights_file(model, source.value)


def preset_model(folder, names, kwargs):
    """The model of the preset in `folder` (`kwargs["weights"]` named it), which must hold one
    of the registry names `names`; the other `kwargs` as `presets.load_folder` takes them."""
    names = (names,) if isinstance(names, str) else tuple(names)
    kwargs = dict(kwargs)
    return presets.load_folder(folder, kwargs.pop("weights"), names, **kwargs)


def accepts_pretrained(expected_names):
    """Decorates a named constructor so that `weights=` takes every pretrained source, as
    `argument.resolve_weights` reads it: a tag of the weights table ("imagenet",
    "IMAGENET1K_V2", "DEFAULT", a registered tag) or a Hub tag ("hf://timm/resnet50.a1_in1k"),
    built for the weights and loaded through the cache (`loading.pretrained_model`); a preset
    (`preset_model`); a PyTorch-side file (.pth, .safetensors, .npz), converted after checking
    that it holds this constructor's architecture. keras.applications' rows, None and
    `.weights.h5` files go to the constructor itself.

    `expected_names(kwargs)` is the registry name it builds with these arguments, or several
    (AlexNet's "alexnet", "alexnet_torchvision": the weights decide the variant)."""
    def decorate(constructor):
        @functools.wraps(constructor)
        def wrapper(*args, **kwargs):
            names = expected_names(kwargs)
            names = (names,) if isinstance(names, str) else tuple(names)
            source = argument.resolve_weights(kwargs.get("weights"), names)
            if source.kind == argument.PRESET:
                return preset_model(source.value, names, kwargs)
            if source.kind == argument.CHECKPOINT:
                return converters.convert_checkpoint(kwargs.pop("weights"), names[0], **kwargs)
            row = source.row
            if row is None or row.publisher == table.KERAS_APPLICATIONS:
                return constructor(*args, **kwargs)
            check_pretrained(row, include_top=kwargs.get("include_top", True),
                             classes=kwargs.get("classes", row.classes),
                             classifier_activation=kwargs.get("classifier_activation",
                                                              "softmax"),
                             input_shape=kwargs.get("input_shape"),
                             data_format=kwargs.get("data_format"))
            return loading.pretrained_model(row, **kwargs)
        return wrapper
    return decorate


def require_tensorflow_backend(what, error=ValueError):
    """Raises `error` when Keras runs on another backend than TensorFlow: `what` (the training
    core, the tf.data pipelines, the exporters) is TensorFlow's; the models are any backend's."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise error(
            f"{what} runs on Keras's TensorFlow backend; this process runs Keras on {backend!r} "
            "(KERAS_BACKEND). On that backend the models build, load weights (by tag, file or "
            "torchvision checkpoint), predict, fit with model.fit and save to .keras; for "
            f"{what}, run with KERAS_BACKEND=tensorflow.")


def variant_names(base, variant=None):
    """The registry names a call of `base` may build, whose weights it may load: the weights
    decide AlexNet's and GoogLeNet's variant unless the caller did (torchvision publishes
    weights for its variant only); any other model is its own name."""
    names = {"paper": (base,), "torchvision": (f"{base}_torchvision",)}.get(
        variant, (base, f"{base}_torchvision"))
    return tuple(name for name in names if name in registry.list_models()) or (base,)


def inference_model(model):
    """The network evaluation, export and `model_stats` use: `model` without its auxiliary
    classifiers (GoogLeNet's training model has three outputs), else `model` itself."""
    method = getattr(model, "inference_model", None)
    return method() if callable(method) else model


PREPROCESSING_MODES = ("caffe", "torch", "tf")
# The evaluation transform pretrained weights were published with (their table row's).
EVALUATION_KEYS = ("resize", "crop", "interpolation")


class DeepNet(keras.Model):
    """A functional model that keeps its constructor's arguments as its config (as keras-hub's
    backbones do), so `from_config(get_config())` and `.keras` files rebuild it by those arguments.

    Subclasses call `self._set_arch(...)` with the arguments that define the architecture.
    `weights` and `input_tensor` are not kept: weights travel in the file, and a rebuilt model gets
    its own input of the same shape.

    `preprocessing` (every constructor takes it, through `**kwargs`): the `preprocess_input`
    mode its weights expect ("caffe", "torch", "tf"), kept in the config and so in `.keras`
    files; None (the default) means "caffe", this package's recipes' and keras.applications'.
    The pretrained loaders set it (torchvision's files: "torch"); `kd.preprocess_input(x,
    model=m)`, the SavedModel and TFLite exports follow it.

    `evaluation`: the evaluation transform the weights' accuracy was published with, {"resize":
    shorter side, "crop": centre crop, "interpolation": "bilinear"/"bicubic"}, set by the
    pretrained loaders and kept in the config; the training core's ImageNet evaluation uses it.
    """

    def __init__(self, *args, preprocessing=None, evaluation=None, **kwargs):
        if preprocessing not in (None, *PREPROCESSING_MODES):
            raise ValueError(f"preprocessing must be None or one of "
                             f"{', '.join(PREPROCESSING_MODES)}; got {preprocessing!r}.")
        if evaluation is not None and (not isinstance(evaluation, dict)
                                       or set(evaluation) != set(EVALUATION_KEYS)):
            raise ValueError(f"evaluation must be None or a dict with keys "
                             f"{', '.join(EVALUATION_KEYS)}; got {evaluation!r}.")
        self.evaluation = evaluation
        super().__init__(*args, **kwargs)
        self.preprocessing = preprocessing

    def _set_arch(self, **arch):
        self._arch = arch

    def get_config(self):
        extra = {key: getattr(self, key) for key in ("preprocessing", "evaluation")
                 if getattr(self, key, None) is not None}
        return {"name": self.name, "trainable": self.trainable, **self._arch, **extra}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@contextlib.contextmanager
def graph_recursion_limit(num_layers):
    """Keras builds a functional graph by recursing once per layer along the longest path
    (keras/src/ops/function.py, `_build_map_helper`): ResNet-1202's ~3,600 layers exceed Python's
    default limit of 1,000 frames. Raise the limit while the graph is built, then restore it."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 6 * num_layers + 2000))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)

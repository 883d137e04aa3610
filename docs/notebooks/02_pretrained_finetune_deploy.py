# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pretrained weights, fine-tuning and deployment
#
# From ImageNet weights to an int8 model on a phone's runtime, with the package's public API:
# `kd.ResNet50(weights="imagenet")` and a torchvision tag, `decode_predictions` on photos, the
# C2-C5 feature maps of `kd.feature_extractor`, fine-tuning on an image folder with the first
# stages frozen, export to a SavedModel and an int8 TFLite file, and a prediction through LiteRT
# compared with Keras's.
#
# Open it in Colab: *File > Upload notebook* (or the README's Colab link), then set
# `PACKAGE_SOURCE` in the parameters cell; locally: `jupyter lab docs/notebooks` from the
# repository (`pip install -e . jupyterlab`). Weights download once (ResNet-50: 98 MB from
# keras.applications' and torchvision's servers) into `~/.keras/keras_deepnets`; the fine-tuning
# data defaults to TensorFlow's flower photos (218 MB, 5 classes).

# %% tags=["parameters"]
# Parameters (the tests use ResNet-18 and weights served from 127.0.0.1 here).
MODEL = "resnet50"             # an ImageNet model with published weights (kd.list_weights())
WEIGHTS = "imagenet"           # keras.applications' file for ResNet-50
TORCHVISION_TAG = "IMAGENET1K_V2"  # torchvision's own tag for the same architecture
OWN_WEIGHTS = None             # dict(tag=..., url=..., sha256=...): your own file (and any
                               # other kd.register_weights argument), registered first, so
                               # that WEIGHTS or TORCHVISION_TAG may name its tag
PHOTOS = [                     # photo paths or URLs to classify
    "https://storage.googleapis.com/download.tensorflow.org/example_images/grace_hopper.jpg",
    "https://storage.googleapis.com/download.tensorflow.org/example_images/YellowLabradorLooking_new.jpg",
]
FINETUNE_DATA = None           # a folder of class folders, or with train/ and val/ (None:
                               # TensorFlow's flower photos, 5 classes, downloaded once)
VALIDATION_SPLIT = 500         # images held out when the folder has no val/ (or test/)
FREEZE = ("conv1", "conv2", "conv3")  # stages kept as loaded
IMAGE_SIZE = 224
EPOCHS = 3
MAX_EXAMPLES = None            # training images per epoch (None: all)
MAX_VAL_EXAMPLES = None        # validation images scored after every epoch (None: all)
BATCH_SIZE = 32
TRAIN_STEPS = None             # stop after this many iterations (smoke runs)
CALIBRATION_IMAGES = 200       # images that calibrate the int8 ranges
OUTPUT_DIR = "runs/notebook_pretrained"
PACKAGE_SOURCE = "git+https://github.com/<owner>/keras_deepnets.git"

# %%
# Setup: where keras_deepnets is not installed (a fresh Colab runtime) pip installs it first.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("keras_deepnets") is None:
    if "<owner>" in PACKAGE_SOURCE:
        raise RuntimeError("keras_deepnets is not installed here: set PACKAGE_SOURCE in the "
                           "parameters cell to the repository's git URL or an uploaded copy.")
    print(f"Installing keras_deepnets from {PACKAGE_SOURCE} (about a minute) ...")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", PACKAGE_SOURCE])

# %matplotlib inline
# First: imported before anything else imports TensorFlow, keras_deepnets starts it without
# its C++ start-up lines (in Jupyter; TF_CPP_MIN_LOG_LEVEL=0 shows them).
import keras_deepnets as kd

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from IPython.display import Image, Markdown, display

print(f"keras_deepnets {kd.__version__}, Keras {keras.__version__}, "
      f"TensorFlow {tf.__version__}; "
      f"GPUs: {len(tf.config.list_physical_devices('GPU'))}")

# %% [markdown]
# ## Weights by name
#
# The first call downloads the file (a progress bar), checks its hash, converts it once and caches
# the result; the next call loads the cached file. One line says what was loaded. `OWN_WEIGHTS`
# registers a team's file first (`kd.register_weights`), used the same way.

# %%
import os
import time

if OWN_WEIGHTS:
    kd.register_weights(model=MODEL, **OWN_WEIGHTS)
print(f"Loading {MODEL} with weights {WEIGHTS!r}: the first time a download (~100 MB for "
      "ResNet-50) and a conversion, seconds once cached ...")
start = time.time()
model = kd.get_model(MODEL, weights=WEIGHTS)
print(f"{time.time() - start:.1f} s; {kd.model_stats(model)}")
print(f"Loading {MODEL} with torchvision's tag {TORCHVISION_TAG!r} ...")
start = time.time()
tv_model = kd.get_model(MODEL, weights=TORCHVISION_TAG)
print(f"{time.time() - start:.1f} s")
display(Markdown("\n".join(
    ["| tag | publisher | top-1 | file |", "|---|---|---:|---|"]
    + [f"| {r.tag} | {r.publisher} | {r.top1 or '-'} | {r.file_name(True)} |"
       for r in kd.list_weights(MODEL)])))

# %% [markdown]
# ## Photos through `decode_predictions`
#
# Each photo goes through the evaluation transform (shorter side to 256, centre crop 224) and the
# preprocessing the weights expect (`kd.preprocess_input(x, model=m)`: caffe's BGR means for
# keras.applications' file, torchvision's mean/std for its tags).

# %%
from keras_deepnets.data import evaluation


def load_photo(path_or_url):
    if "://" in path_or_url:
        path_or_url = keras.utils.get_file(origin=path_or_url)
    image = tf.io.decode_jpeg(tf.io.read_file(path_or_url), channels=3,
                              dct_method="INTEGER_ACCURATE")
    return evaluation.center_crop(evaluation.resize_shorter(image, 256), 224).numpy()


photos = np.stack([load_photo(p) for p in PHOTOS]).astype("float32")
predictions = {}
for label, m in (("weights " + WEIGHTS, model), ("torchvision " + TORCHVISION_TAG, tv_model)):
    # The classifier ends in a softmax (keras.applications' contract): these are probabilities.
    probs = m.predict(kd.preprocess_input(photos.copy(), model=m), verbose=0)
    predictions[label] = kd.decode_predictions(probs, top=3)

fig, axes = plt.subplots(1, len(photos), figsize=(4 * len(photos), 4.6), squeeze=False)
for i, (ax, photo) in enumerate(zip(axes[0], photos)):
    ax.imshow(photo.astype("uint8"))
    ax.axis("off")
    ax.set_title("\n".join(f"{label.split()[0]}: {top[i][0][1]} {top[i][0][2]:.0%}"
                           for label, top in predictions.items()), fontsize=9)
plt.show()
for label, top in predictions.items():
    for path, rows in zip(PHOTOS, top):
        print(f"{label:28s} {os.path.basename(path):32s} "
              + ", ".join(f"{name} ({wnid}) {p:.3f}" for wnid, name, p in rows))

# %% [markdown]
# ## The C2-C5 feature maps
#
# `kd.feature_extractor` returns every stage's output (the levels a detection or segmentation
# head reads, FPN's C2-C5 at strides 4 to 32). Below: the first photo's four maps, each shown as
# its 8 most active channels.

# %%
backbone = kd.feature_extractor(model)
features = backbone(kd.preprocess_input(photos[:1].copy(), model=model))
print({k: (v["stride"], v["channels"]) for k, v in
       ((i["name"], i) for i in kd.feature_info(backbone))})
fig, axes = plt.subplots(len(features), 8, figsize=(14, 1.9 * len(features)), squeeze=False)
for row, (name, fmap) in zip(axes, features.items()):
    fmap = np.asarray(fmap[0])
    for ax, channel in zip(row, np.argsort(-fmap.mean(axis=(0, 1)))[:8]):
        ax.imshow(fmap[..., channel], cmap="viridis")
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(f"{name}\n{fmap.shape[0]}x{fmap.shape[1]}")
plt.show()

# %% [markdown]
# ## Fine-tuning on an image folder
#
# `training.train` with `init_weights` loads the weights with a fresh classifier for the folder's
# classes; `freeze` keeps the first stages (and their BN statistics) as loaded. The data switches
# to the preprocessing the weights expect.

# %%
from keras_deepnets import training

data = FINETUNE_DATA
if data is None:
    print("Downloading TensorFlow's flower photos (218 MB, once) ...")
    # get_file returns the folder it extracted into; the archive holds flower_photos/<class>/.
    data = os.path.join(keras.utils.get_file(
        "flower_photos", extract=True,
        origin="https://storage.googleapis.com/download.tensorflow.org/example_images/"
               "flower_photos.tgz"), "flower_photos")
steps = (MAX_EXAMPLES or 3000) // BATCH_SIZE * EPOCHS
print(f"Fine-tuning {MODEL} on {data}, {FREEZE} frozen: {EPOCHS} epoch(s), about "
      f"{min(steps, TRAIN_STEPS or steps)} iterations of {BATCH_SIZE} (ResNet-50 with conv1-conv3 "
      "frozen: ~12 img/s measured on a 2-core CPU, a GPU some hundreds) ...")
tuned = training.train(
    model=MODEL, init_weights=WEIGHTS, freeze=FREEZE, data=data, image_size=IMAGE_SIZE,
    validation_split=0 if os.path.isdir(os.path.join(data, "train")) else VALIDATION_SPLIT,
    epochs=EPOCHS, max_examples=MAX_EXAMPLES, max_val_examples=MAX_VAL_EXAMPLES,
    batch_size=BATCH_SIZE, train_steps=TRAIN_STEPS, recipe="paper", lr=0.01,
    model_dir=os.path.join(OUTPUT_DIR, "finetune"), export_dir="",
    tensorboard=False)
frozen = [w for w in tuned.model.weights if not w.trainable]
print(f"{len(frozen)} weights frozen; final epoch: {tuned.history[-1]}")
display(Image(tuned.curves_png))

# %% [markdown]
# ## Export: SavedModel and int8 TFLite, then LiteRT against Keras
#
# `export.export_model` writes a versioned SavedModel (a float `serving_default` signature and one
# that takes JPEG bytes) and a full-integer int8 `.tflite` calibrated on real images of the
# training folder. The `.tflite` runs on LiteRT (`ai-edge-litert`), the runtime phones use.

# %%
from keras_deepnets import export

print(f"Exporting: a SavedModel, then int8 TFLite calibrated on {CALIBRATION_IMAGES} images "
      "(a minute or two for ResNet-50 on a CPU) ...")
start = time.time()
paths = export.export_model(tuned.model, os.path.join(OUTPUT_DIR, "export"),
                            formats=("saved_model", "tflite"), quantize=("int8",),
                            representative_data=data, num_calibration=CALIBRATION_IMAGES,
                            name=MODEL)
print(f"{time.time() - start:.0f} s: {paths}")

images = tf.image.resize(photos, (IMAGE_SIZE, IMAGE_SIZE)).numpy()
images = kd.preprocess_input(images, model=tuned.model)
keras_probs = tuned.model.predict(images, verbose=0)
litert = export.LiteRTModel(paths["tflite_int8"])
lite_probs = litert.predict(images)
agree = float(np.mean(keras_probs.argmax(-1) == lite_probs.argmax(-1)))
max_diff = float(np.abs(keras_probs - lite_probs).max())
print(f"LiteRT int8 ({litert.size_bytes / 1e6:.1f} MB) against Keras float32 on "
      f"{len(images)} photos: top-1 agreement {agree:.0%}, max |probability difference| "
      f"{max_diff:.3f}")
for i, (k, t) in enumerate(zip(keras_probs, lite_probs)):
    print(f"photo {i}: Keras class {k.argmax()} ({k.max():.3f}), LiteRT class {t.argmax()} "
          f"({t.max():.3f})")

# %% [markdown]
# ## Share it: a preset that any process loads
#
# `kd.save_preset` writes a folder with the weights, the constructor arguments, the classes, the
# preprocessing, the run's config and a model card, each file's SHA-256 in a manifest.
# `weights=<folder>` (or `file://`, or `hf://owner/repo@revision` once published with
# `scripts/push_weights.py`) rebuilds the same model anywhere; here a fresh Python process does.

# %%
import subprocess
import sys

preset = kd.save_preset(tuned.model, os.path.join(OUTPUT_DIR, "preset"), model_name=MODEL,
                        training=os.path.join(OUTPUT_DIR, "finetune"), overwrite=True)
print(f"preset {preset}: {sorted(os.listdir(preset))}")
np.save(os.path.join(OUTPUT_DIR, "preset_images.npy"), images)
fresh_out = os.path.join(OUTPUT_DIR, "preset_probs.npy")
loader = ("import sys, numpy as np, keras_deepnets as kd; "
          "m = kd.get_model(sys.argv[1], weights=sys.argv[2]); "
          "np.save(sys.argv[4], m.predict(np.load(sys.argv[3]), verbose=0))")
# TensorFlow's C++ start-up lines of the child stay out of the cell; its error, if any, shows
loaded = subprocess.run([sys.executable, "-c", loader, MODEL, preset,
                         os.path.join(OUTPUT_DIR, "preset_images.npy"), fresh_out],
                        capture_output=True, text=True)
if loaded.returncode:
    raise RuntimeError(f"the fresh process failed: {loaded.stderr[-2000:]}")
fresh_probs = np.load(fresh_out)
print(f"a fresh process loaded the preset: max |probability difference| against this "
      f"process {np.abs(fresh_probs - keras_probs).max():.2e}")

"""Writes docs/notebooks/*.ipynb from the cells below, outputs stripped (what git keeps).

    python scripts/make_notebooks.py            # rewrites the three notebooks

The notebooks are edited here, not in Jupyter, so that their diffs stay readable; the tests
(tests/docs/test_notebook_*.py, test_notebooks_clean.py) execute them and check that no
committed notebook has outputs.
Each notebook's first code cell is tagged "parameters" (papermill's convention): the tests, and
a user, change the data location and the budget there.
"""

import os

import nbformat

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "notebooks")

# Where pip finds the package on Colab. The repository's public address is not known here:
# replace <owner>, or point it at an uploaded copy (e.g. "/content/keras_deepnets.zip").
PACKAGE_SOURCE = 'PACKAGE_SOURCE = "git+https://github.com/<owner>/keras_deepnets.git"'

SETUP = '''\
# Setup: where keras_deepnets is not installed (a fresh Colab runtime) pip installs it first.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("keras_deepnets") is None:
    if "<owner>" in PACKAGE_SOURCE:
        raise RuntimeError("keras_deepnets is not installed here: set PACKAGE_SOURCE in the "
                           "parameters cell to the repository's git URL or an uploaded copy.")
    print(f"Installing keras_deepnets from {{PACKAGE_SOURCE}} (about a minute) ...")
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", PACKAGE_SOURCE])

%matplotlib inline
# First: imported before anything else imports TensorFlow, keras_deepnets starts it without
# its C++ start-up lines (in Jupyter; TF_CPP_MIN_LOG_LEVEL=0 shows them).
import keras_deepnets as kd

{imports}

print(f"keras_deepnets {{kd.__version__}}, Keras {{keras.__version__}}, "
      f"TensorFlow {{tf.__version__}}; "
      f"GPUs: {{len(tf.config.list_physical_devices('GPU'))}}")'''


def setup(imports):
    """The setup cell with the notebook's own imports (ruff checks the notebooks too)."""
    return SETUP.format(imports=imports)

COLAB = ("Open it in Colab: *File > Upload notebook* (or the README's Colab link), then set "
         "`PACKAGE_SOURCE` in the parameters cell; locally: `jupyter lab docs/notebooks` from the "
         "repository (`pip install -e . jupyterlab`).")

DEGRADATION = [
    ("md", f"""\
# Degradation and residual learning on CIFAR-10

He et al., *Deep Residual Learning for Image Recognition* (CVPR 2016), section 4.2: plain nets
get **worse** as they get deeper (Fig. 1, Fig. 6 left), the same nets with identity shortcuts
get **better** (Fig. 6 middle, Table 6). This notebook builds the four nets of that comparison,
counts their parameters beside Table 6, trains each with the package's training core and the
fast recipe, draws training and test error as the paper does, and puts the package's recorded
longer runs beside the paper's numbers.

{COLAB} The parameters cell sets the data and the budget: the defaults (10 epochs of all 50,000
images per net) are the budget at which the package's recorded runs reproduced both findings."""),
    ("code", f"""\
# Parameters (the tests set a tiny budget here; change them for your machine).
DATA = "cifar10"          # a TFDS name (downloaded once), or a folder with train/ and test/
                          # class folders of images (the tests' JPEG copy of CIFAR-10)
EPOCHS = 10               # per net: the fast recipe's learning rate decays to 0 at the end
MAX_EXAMPLES = None       # training images per epoch (None: all 50,000)
MAX_VAL_EXAMPLES = None   # test images scored after every epoch (None: all 10,000)
BATCH_SIZE = None         # None: the fast recipe's 256
TRAIN_STEPS = None        # stop every run after this many iterations (smoke runs)
MIXED_PRECISION = "auto"  # bfloat16 on CPUs, float16 on GPUs; "float32" for full precision
OUTPUT_DIR = "runs/notebook_degradation"
RESULTS_DIR = "../results/one_cpu"  # the package's recorded runs (docs/results in the repo)
{PACKAGE_SOURCE}""", ["parameters"]),
    ("code", setup("import keras\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
                   "import tensorflow as tf\nfrom IPython.display import Markdown, display")),
    ("md", """\
## The nets of section 4.2

Three stages of 3x3 convolutions on 32x32, 16x16 and 8x8 maps with 16, 32 and 64 filters, n
blocks of two layers each, so 6n+2 weighted layers. The ResNets add an identity shortcut around
every block (option A: zero-padding where the width doubles), which adds no parameter: a plain
net and its ResNet have the same count. Table 6 lists the ResNets' trainable parameters (the
batch norms' moving statistics, 4 numbers per channel of which 2 train, are not learned)."""),
    ("code", """\
NETS = {"plain-20": "plain20", "plain-56": "plain56", "ResNet-20": "resnet20",
        "ResNet-56": "resnet56"}
TABLE6_PARAMS = {20: "0.27M", 32: "0.46M", 44: "0.66M", 56: "0.85M", 110: "1.7M"}

stats = {name: kd.model_stats(kd.get_model(name)) for name in NETS.values()}
rows = ["| net | trainable parameters | all parameters | multiply-adds | Table 6 |",
        "|---|---:|---:|---:|---:|"]
for label, name in NETS.items():
    s, depth = stats[name], int(name[-2:])
    rows.append(f"| {label} | {s.trainable_params:,} ({s.trainable_params / 1e6:.2f}M) "
                f"| {s.params:,} | {s.mult_adds / 1e6:.1f}M "
                f"| {TABLE6_PARAMS[depth] if name.startswith('resnet') else '-'} |")
display(Markdown("\\n".join(rows)))"""),
    ("md", """\
## Training the four nets

`training.train` is the core the scripts use: the fast recipe (SGD with Nesterov momentum, a
linear warm-up then a linear decay to 0, label smoothing, a moving average of the weights),
the paper's augmentation (4-pixel padding, random crops, flips), a progress bar per epoch and
one line per epoch with the time left. Each run's records (history.csv, train_steps.csv, a
curves PNG, checkpoints) go to `OUTPUT_DIR/<net>`; running the cell again resumes them."""),
    ("code", """\
import json
import os
import time

from keras_deepnets import training


def recorded(name):
    \"\"\"The package's recorded run of `name` (an experiments JSON in RESULTS_DIR), or None.\"\"\"
    for path in ("fast_10epochs/residual.json", "fast_5epochs/degradation.json"):
        path = os.path.join(RESULTS_DIR, path)
        if os.path.isfile(path):
            for run in json.load(open(path))["runs"]:
                if run["model"] == name:
                    return run
    return None


def estimate(name, rate):
    \"\"\"What the run will take: its images over `rate` (img/s of ResNet-20's multiply-adds).\"\"\"
    images = (MAX_EXAMPLES or 50_000) * EPOCHS
    if TRAIN_STEPS:
        images = min(images, TRAIN_STEPS * (BATCH_SIZE or 256))
    if rate is None:
        return f"{images:,} training images; the epoch lines below give the time left"
    seconds = images / (rate * stats["resnet20"].mult_adds / stats[name].mult_adds)
    return f"{images:,} training images, about {seconds / 60:.1f} min plus testing"


results, rate = {}, None
run = recorded("resnet20")
if run:  # until this machine has measured itself: the recorded run's speed
    rate, where = run["images_per_sec"], "the recorded run's 2-core CPU"
start = time.time()
for label, name in NETS.items():
    print(f"== {label}: {estimate(name, rate)}"
          + (f" (at the speed of {where})" if rate else ""))
    results[label] = training.train(
        model=name, data=DATA, recipe="fast", epochs=EPOCHS, max_examples=MAX_EXAMPLES,
        max_val_examples=MAX_VAL_EXAMPLES, batch_size=BATCH_SIZE, train_steps=TRAIN_STEPS,
        mixed_precision=MIXED_PRECISION, model_dir=os.path.join(OUTPUT_DIR, name),
        export_dir="", tensorboard=False)
    ips = results[label].summary["images_per_sec"]
    if ips:  # this machine's speed, in ResNet-20 units, for the next estimate
        rate = ips * stats[name].mult_adds / stats["resnet20"].mult_adds
        where = "this machine"
print(f"All four nets: {(time.time() - start) / 60:.1f} min")"""),
    ("md", """\
## Training and test error (the paper's Fig. 6)

Thin lines: training error per iteration (smoothed over 20 iterations); thick lines: test
error after every epoch. On the left the plain nets, on the right the ResNets."""),
    ("code", """\
def smooth(values, width=20):
    width = max(1, min(width, len(values)))
    return np.convolve(values, np.ones(width) / width, mode="valid")


def draw(ax, labels, title):
    for label, color in zip(labels, ("tab:orange", "tab:red")):
        result = results[label]
        train_err = [100 * s["top1_error"] for s in result.steps]
        ax.plot(np.arange(len(smooth(train_err))) + 1, smooth(train_err), color=color,
                linewidth=0.8, alpha=0.7, label=f"{label} train")
        tested = [r for r in result.history if r.get("val_top1") is not None]
        ax.plot([r["step"] for r in tested], [100 * (1 - r["val_top1"]) for r in tested],
                color=color, linewidth=2.5, marker="o", label=f"{label} test")
    ax.set(title=title, xlabel="iteration", ylabel="error (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend()


fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
draw(axes[0], ["plain-20", "plain-56"], "plain nets")
draw(axes[1], ["ResNet-20", "ResNet-56"], "ResNets")
fig.suptitle(f"CIFAR-10, fast recipe, {EPOCHS} epoch(s) of "
             f"{MAX_EXAMPLES or 'all'} images per net")
curves_png = os.path.join(OUTPUT_DIR, "curves.png")
fig.savefig(curves_png, dpi=100, bbox_inches="tight")
plt.show()

final = {label: (100 * results[label].steps[-1]["top1_error"],
                 100 * (1 - results[label].history[-1]["val_top1"])) for label in NETS}
rows = ["| net | last training error (%) | test error (%) |", "|---|---:|---:|"]
rows += [f"| {label} | {train:.2f} | {test:.2f} |" for label, (train, test) in final.items()]
display(Markdown("\\n".join(rows)))
print(f"Curves: {curves_png}")"""),
    ("md", """\
## The recorded longer runs beside the paper

The package's own runs of the same nets on one 2-core CPU (`scripts/reproduce.py`, kept in
`docs/results/one_cpu`), and the paper's Table 6. The budgets differ by far: the paper trained
64k iterations of batch 128 (about 180 epochs of 45k images); the recorded runs trained 5
(plain nets) and 10 (ResNets) epochs of all 50k images with the fast recipe. The paper gives
no number for the plain nets on CIFAR-10, only Fig. 6's curves."""),
    ("code", """\
from keras_deepnets import experiments

paper = {s.model: s.paper for name in ("degradation", "residual")
         for s in experiments.get_experiment(name).series}
records = []
for name in ("fast_5epochs/degradation.json", "fast_10epochs/residual.json"):
    path = os.path.join(RESULTS_DIR, name)
    if not os.path.isfile(path):
        print(f"{path} is not here (it comes with the repository's docs/results): skipped.")
        continue
    record = json.load(open(path))
    flags, config = record["flags"], record["runs"][0]["config"]
    budget = (f"{flags['budget']} epochs of {flags['max_examples'] or 'all 50k'} images, "
              f"{config.get('recipe', 'paper')} recipe, {config['policy']}")
    records += [(run["label"], run["model"], run["final"],
                 f"{budget}, {run['wall_seconds'] / 60:.0f} min") for run in record["runs"]]

if records:
    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(records))
    ax.bar(x - 0.2, [r[2]["test_error"] for r in records], 0.4, label="recorded run, test")
    ax.bar(x + 0.2, [paper[r[1]] or 0 for r in records], 0.4, label="paper, Table 6")
    ax.set_xticks(x, [f"{r[0]}\\n{r[3].split(',')[0]}" for r in records])
    ax.set(ylabel="CIFAR-10 test error (%)", title="Recorded runs (one CPU) and the paper")
    ax.legend()
    plt.show()
    rows = ["| net | budget | train error (%) | test error (%) | paper (%) |",
            "|---|---|---:|---:|---:|"]
    rows += [f"| {label} | {budget} | {f['train_error']:.2f} | {f['test_error']:.2f} | "
             f"{paper[model] if paper[model] else 'Fig. 6 only'} |"
             for label, model, f, budget in records]
    display(Markdown("\\n".join(rows)))"""),
    ("md", """\
**Reading the results.** Degradation shows as plain-56's training error staying above
plain-20's; residual learning as ResNet-56 ending below ResNet-20. At the recorded budgets
both findings reproduced (plain-56 58.2% against plain-20 25.8% training error after 5
epochs; ResNet-56 15.6% against ResNet-20 17.0% test error after 10), though ~10 points above
the paper's errors, which came from ~16 times the training. At a budget of a few steps (as in the
tests) the curves show the machinery working, not the findings."""),
]

PRETRAINED = [
    ("md", f"""\
# Pretrained weights, fine-tuning and deployment

From ImageNet weights to an int8 model on a phone's runtime, with the package's public API:
`kd.ResNet50(weights="imagenet")` and a torchvision tag, `decode_predictions` on photos, the
C2-C5 feature maps of `kd.feature_extractor`, fine-tuning on an image folder with the first
stages frozen, export to a SavedModel and an int8 TFLite file, and a prediction through LiteRT
compared with Keras's.

{COLAB} Weights download once (ResNet-50: 98 MB from keras.applications' and torchvision's
servers) into `~/.keras/keras_deepnets`; the fine-tuning data defaults to TensorFlow's
flower photos (218 MB, 5 classes)."""),
    ("code", f"""\
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
{PACKAGE_SOURCE}""", ["parameters"]),
    ("code", setup("import keras\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
                   "import tensorflow as tf\n"
                   "from IPython.display import Image, Markdown, display")),
    ("md", """\
## Weights by name

The first call downloads the file (a progress bar), checks its hash, converts it once and caches
the result; the next call loads the cached file. One line says what was loaded. `OWN_WEIGHTS`
registers a team's file first (`kd.register_weights`), used the same way."""),
    ("code", """\
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
display(Markdown("\\n".join(
    ["| tag | publisher | top-1 | file |", "|---|---|---:|---|"]
    + [f"| {r.tag} | {r.publisher} | {r.top1 or '-'} | {r.file_name(True)} |"
       for r in kd.list_weights(MODEL)])))"""),
    ("md", """\
## Photos through `decode_predictions`

Each photo goes through the evaluation transform (shorter side to 256, centre crop 224) and the
preprocessing the weights expect (`kd.preprocess_input(x, model=m)`: caffe's BGR means for
keras.applications' file, torchvision's mean/std for its tags)."""),
    ("code", """\
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
    ax.set_title("\\n".join(f"{label.split()[0]}: {top[i][0][1]} {top[i][0][2]:.0%}"
                           for label, top in predictions.items()), fontsize=9)
plt.show()
for label, top in predictions.items():
    for path, rows in zip(PHOTOS, top):
        print(f"{label:28s} {os.path.basename(path):32s} "
              + ", ".join(f"{name} ({wnid}) {p:.3f}" for wnid, name, p in rows))"""),
    ("md", """\
## The C2-C5 feature maps

`kd.feature_extractor` returns every stage's output (the levels a detection or segmentation
head reads, FPN's C2-C5 at strides 4 to 32). Below: the first photo's four maps, each shown as
its 8 most active channels."""),
    ("code", """\
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
    row[0].set_ylabel(f"{name}\\n{fmap.shape[0]}x{fmap.shape[1]}")
plt.show()"""),
    ("md", """\
## Fine-tuning on an image folder

`training.train` with `init_weights` loads the weights with a fresh classifier for the folder's
classes; `freeze` keeps the first stages (and their BN statistics) as loaded. The data switches
to the preprocessing the weights expect."""),
    ("code", """\
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
display(Image(tuned.curves_png))"""),
    ("md", """\
## Export: SavedModel and int8 TFLite, then LiteRT against Keras

`export.export_model` writes a versioned SavedModel (a float `serving_default` signature and one
that takes JPEG bytes) and a full-integer int8 `.tflite` calibrated on real images of the
training folder. The `.tflite` runs on LiteRT (`ai-edge-litert`), the runtime phones use."""),
    ("code", """\
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
          f"({t.max():.3f})")"""),
    ("md", """\
## Share it: a preset that any process loads

`kd.save_preset` writes a folder with the weights, the constructor arguments, the classes, the
preprocessing, the run's config and a model card, each file's SHA-256 in a manifest.
`weights=<folder>` (or `file://`, or `hf://owner/repo@revision` once published with
`scripts/push_weights.py`) rebuilds the same model anywhere; here a fresh Python process does."""),
    ("code", """\
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
      f"process {np.abs(fresh_probs - keras_probs).max():.2e}")"""),
]

DEPTH_SEARCH = [
    ("md", f"""\
# A depth search over the CIFAR ResNets

KerasTuner over the paper's CIFAR-10 design space (`tuning.CifarResNetHyperModel`: depth 6n+2,
basic or bottleneck blocks, shortcut option, width, learning rate, weight decay), each trial
trained by the package's training core. The table and plot are the tuner's results, written to
the project folder as `results.csv`, `results.md` and `results.png`.

{COLAB} The default budget, 8 trials of 3 epochs on 10,000 images, is a short search: it ranks
the nets early in training, not at convergence."""),
    ("code", f"""\
# Parameters (the tests set a tiny budget here; change them for your machine).
DATA = "cifar10"            # a TFDS name, or a folder with train/ and test/ class folders
TUNER = "random"            # random | hyperband | bayesian
MAX_TRIALS = 8
EPOCHS = 3                  # per trial
MAX_EXAMPLES = 10_000       # training images per epoch
MAX_VAL_EXAMPLES = 2_000    # images that score each trial
BATCH_SIZE = 128
TRAIN_STEPS = None          # stop every trial after this many iterations (smoke runs)
DEPTHS = (20, 32, 44, 56)
BLOCKS = ("basic", "bottleneck")
SHORTCUTS = ("A", "B")
WIDTHS = (0.5, 1.0)
MIXED_PRECISION = "auto"
OUTPUT_DIR = "runs/notebook_tuning"
{PACKAGE_SOURCE}""", ["parameters"]),
    ("code", setup("import keras\nimport tensorflow as tf\n"
                   "from IPython.display import Image, Markdown, display")),
    ("code", """\
import time

from keras_deepnets import training, tuning

hypermodel = tuning.CifarResNetHyperModel(depths=DEPTHS, blocks=BLOCKS, shortcuts=SHORTCUTS,
                                          widths=WIDTHS)
config = training.TrainConfig(data=DATA, recipe="fast", max_examples=MAX_EXAMPLES,
                              max_val_examples=MAX_VAL_EXAMPLES, batch_size=BATCH_SIZE,
                              train_steps=TRAIN_STEPS, mixed_precision=MIXED_PRECISION,
                              tensorboard=False, export_dir="")
tuner = tuning.make_tuner(TUNER, hypermodel, train_config=config, max_trials=MAX_TRIALS,
                          epochs=EPOCHS, directory=OUTPUT_DIR, seed=0)
tuner.search_space_summary()
per_trial = min(EPOCHS * MAX_EXAMPLES, (TRAIN_STEPS or 10**9) * BATCH_SIZE)
# Measured on a 2-core CPU: the default budget (8 trials x 30,000 images) took 23.5 min, 0.6 to
# 5.5 min a trial (building and scoring included), i.e. ~5.9 ms per training image.
print(f"Searching: {MAX_TRIALS} trials of up to {per_trial:,} training images each: about "
      f"{MAX_TRIALS * per_trial * 0.0059 / 60:.0f} min on a 2-core CPU (a GPU: far less). A "
      "finished project resumes instead of training again; in Jupyter KerasTuner redraws the "
      "next cell's output at every trial.")"""),
    ("code", """\
start = time.time()
search = tuning.run_search(tuner)
print(f"Search: {(time.time() - start) / 60:.1f} min; results in {tuner.project_dir}")"""),
    ("md", "## Results: every trial, then the best one's hyperparameters"),
    ("code", """\
display(Markdown(open(search["md"]).read()))
display(Image(search["png"]))
best = tuner.get_best_hyperparameters(1)[0]
print("Best trial's hyperparameters:", best.values)"""),
]


def notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    for kind, source, *tags in cells:
        cell = (nbformat.v4.new_markdown_cell(source) if kind == "md"
                else nbformat.v4.new_code_cell(source))
        if tags:
            cell.metadata["tags"] = tags[0]
        cell.pop("id", None)  # random ids would change every file on every run
        nb.cells.append(cell)
    nb.nbformat_minor = 4  # 4.4: no cell ids required
    nbformat.validate(nb)
    return nb


NOTEBOOKS = {"01_degradation_and_residual_learning.ipynb": DEGRADATION,
             "02_pretrained_finetune_deploy.ipynb": PRETRAINED,
             "03_depth_search.ipynb": DEPTH_SEARCH}


def main():
    for name, cells in NOTEBOOKS.items():
        path = os.path.join(OUT, name)
        nbformat.write(notebook(cells), path)
        print(f"wrote {os.path.normpath(path)}")


if __name__ == "__main__":
    main()

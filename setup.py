from setuptools import find_packages, setup

setup(
    name="keras_deepnets",
    version="0.1.0",
    description=("VGG and ResNet (all configs of both papers) as trainable, deployable Keras 3 "
                 "models"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["keras_deepnets", "keras_deepnets.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.3",
        "tensorflow-datasets>=4.9",
        "keras-tuner>=1.4.7",
        "absl-py>=1.0",
        "numpy>=1.26",
        "matplotlib>=3.7",  # training curves and the depth-search plots
        # LiteRT's interpreter runs the TFLite exports (tf.lite.Interpreter is deprecated in
        # TF 2.21).
        "ai-edge-litert>=2.3,<3",
        # KerasTuner's Bayesian oracle imports scikit-learn's Gaussian process; peak memory per
        # trial.
        "scikit-learn>=1.3",
        "psutil>=5.9",
        # Training writes TensorBoard event files (and --profile traces); TF 2.21's wheel no
        # longer installs tensorboard, so without this nothing can show them.
        "tensorboard>=2.16",
        # timm / Hugging Face checkpoints (.safetensors) for from_torchvision: the format's own
        # reader (numpy API, bfloat16 through ml_dtypes), no torch needed.
        "safetensors>=0.4",
        # Weights by name (keras_deepnets/weights): timm's files on the Hugging Face Hub through
        # the Hub's own client (its cache, HF_ENDPOINT mirrors, HF_HUB_OFFLINE), one lock per
        # cached file shared by processes on any OS, and a download bar that renders in
        # terminals and Jupyter.
        "huggingface_hub>=0.23",
        "filelock>=3.12",
        "tqdm>=4.60",
    ],
    extras_require={
        # ONNX export (keras_deepnets.export.export_onnx, scripts/export.py --format=onnx):
        # Keras's model.export(format="onnx") converts through tf2onnx; onnxruntime runs the
        # files and quantizes int8 statically; onnxconverter-common makes the float16 file.
        # Optional: the converters pin protobuf/onnx versions nobody needs for training.
        "export": ["onnx>=1.17", "tf2onnx>=1.16", "onnxruntime>=1.20",
                   "onnxconverter-common>=1.14"],
        "test": ["onnx>=1.17", "tf2onnx>=1.16", "onnxruntime>=1.20",
                 "onnxconverter-common>=1.14",  # the ONNX export tests (as the export extra)
                 # pytest 9.2 made node ids structured, and pytest-xdist (3.8) still groups
                 # `--dist loadgroup` by rewriting the old `_nodeid` field: the groups are
                 # silently ignored (pytest-dev/pytest-xdist#1386, fix open in #1388).
                 "pytest>=7,<9.2", "jax>=0.4.30", "pillow>=10",
                 "importlib_resources>=6",  # TFDS download_and_prepare needs it (data tests)
                 # `ruff check` runs before the tests (.ci/run, the README); a minor release can
                 # add rules, so the minor version is pinned.
                 "ruff>=0.17,<0.18",
                 # The suite runs on 2 worker processes (pytest.ini): it spends about half its
                 # time in one-threaded Python (graph tracing, subprocess start-up), which a
                 # second process overlaps; tests/conftest.py keeps shared fixtures on one.
                 "pytest-xdist>=3.5",
                 # tests/docs executes docs/notebooks in a real Jupyter kernel (Jupyter's own
                 # executor, as `jupyter nbconvert --execute` runs it).
                 "nbclient>=0.10", "ipykernel>=6.0", "nbformat>=5.9",
                 # Each notebook is paired with a py:percent source (docs/notebooks/*.py, what
                 # people edit and review); tests/docs reads both through jupytext, the
                 # ecosystem's tool for text-paired notebooks, to check that they agree.
                 "jupytext>=1.16"],
    },
)

"""Presets: a folder that holds everything needed to rebuild and use a model in another process,
as keras-hub's `save_to_preset` / `from_preset` and timm's `push_to_hf_hub` write them.

`save_preset(model, path)` writes:
- `config.json`: the registry name, the Keras class and constructor arguments (the model's
  `get_config`, rebuilt with `keras.saving.deserialize_keras_object`), the classes and their
  names, the preprocessing and evaluation transform, the measured top-1 with the data it was
  measured on, the parameter count and input shape;
- `model.weights.h5`: the weights (`save_weights`);
- `training_config.json`: the run's `config.json` when the model came from `training.train`;
- `README.md`: a model card made from those facts;
- `manifest.json`: the SHA-256 of every other file, checked on load (a changed or damaged file
  is a one-line error, not a model with other weights).

The folder is written under a temporary name beside `path` and renamed into place, so a
killed process never leaves half a preset. `weights=` of every named constructor and of
`kd.get_model` takes a preset as a folder path, `file://<folder>` or `hf://owner/repo[@revision]`
(a preset uploaded to the Hugging Face Hub, e.g. by `scripts/push_weights.py`), fetched with
`huggingface_hub.snapshot_download` at that revision. Low in the layering: the model
constructors import it (`models/common.py`), and it builds models through Keras's serialization,
never by importing them.
"""

import json
import os
import shutil
import urllib.parse
import urllib.request

import huggingface_hub
import keras
import numpy as np

from keras_deepnets import registry
from keras_deepnets.weights import hub, loading, store, table
from keras_deepnets.weights.transfer import transfer

FORMAT = "keras_deepnets.preset"  # config.json's "format": what tells a preset from timm's repo
VERSION = 1
CONFIG, WEIGHTS, TRAINING, CARD, MANIFEST = (
    "config.json", "model.weights.h5", "training_config.json", "README.md", "manifest.json")
FILE_PREFIX = "file://"
# Constructor arguments a caller may change when loading a preset: the first two leave every
# weight's shape as it is (the model is rebuilt with them); the others give the features or a
# new classifier on the same weights (`transfer`). Any other argument must agree with
# the preset's.
CHANGEABLE = ("name", "classifier_activation", "include_top", "pooling", "classes",
              "input_shape")


class PresetError(table.WeightsError):
    """A folder that is no preset, a damaged preset, or one that does not fit the call."""


def _json(value):
    """`value` as JSON would give it back (tuples as lists): what a preset compares."""
    return json.loads(json.dumps(value))


# The constructor arguments a registry name fixes (the others are options of that network).
STRUCTURE = ("block", "stage_depths", "stage_filters", "stem", "stem_filters", "groups",
             "width_per_group", "config", "variant", "batch_norm")


def _name_of(model):
    """`model.name`, or the most specific registered variant of it whose defaults its config
    holds ("lenet5" built with variant="modern" is "lenet5_modern")."""
    config = _json(model.get_config())
    names = [n for n in registry.list_models() if n == model.name
             or n.startswith(model.name + "_")]
    fits = [(len(registry.model_info(n).kwargs), n) for n in names
            if all(config.get(k) == v for k, v in _json(registry.model_info(n).kwargs).items())]
    return max(fits)[1] if fits else model.name


def registry_name(model, model_name=None):
    """The registry name of `model`: `model_name` when given, else its name; checked against
    the network that name builds (its structure, or for a plain functional model every
    weight's shape), so that a preset never holds one network under another's name."""
    name = model_name or _name_of(model)
    if name not in registry.list_models():
        raise PresetError(f"save_preset: {name!r} is not a registered model name; pass "
                          "model_name=<a name of kd.list_models()> that builds this network.")
    if hasattr(model, "_arch"):  # our models: compare the arguments the name fixes
        config = _json(model.get_config())
        reference = _json(registry.get_model(name, include_top=False, weights=None).get_config())
        differ = [f"{k}: {config.get(k)!r}, {name} has {reference.get(k)!r}" for k in STRUCTURE
                  if config.get(k) != reference.get(k)]
    else:
        reference = registry.get_model(name, classes=int(model.output_shape[-1]))
        differ = ([] if store.signature(reference) == store.signature(model)
                  else [f"its weights' shapes are not {name}'s"])
    if differ:
        raise PresetError(f"save_preset: the model is no {name} ({differ[0]}); pass "
                          "model_name= for the registry name that builds it.")
    return name


def _check_facts(model, class_names, top1, top1_data, licence):
    classes = int(model.output_shape[-1]) if len(model.output_shape) == 2 else None
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise PresetError(f"class_names must be a list of strings; got {class_names!r}.")
        if classes is None or len(class_names) != classes:
            raise PresetError(f"class_names has {len(class_names)} names; the model has "
                              f"{classes or 'no'} classes.")
    if top1 is not None:
        if not isinstance(top1, (int, float)) or not 0 <= top1 <= 1:
            raise PresetError(f"top1 is a fraction in [0, 1] (0.761 for 76.1%); got {top1!r}.")
        if not top1_data:
            raise PresetError("top1 needs top1_data: the data it was measured on, e.g. "
                              "'ImageNet val, 50,000 images, centre crop 224'.")
    if licence is not None and not isinstance(licence, str):
        raise PresetError(f"licence must be a string; got {licence!r}.")
    return classes


def training_config_path(training):
    """The run's config.json from `training`: a run's model_dir or the config.json itself."""
    path = os.path.expanduser(os.fspath(training))
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    if not os.path.isfile(path):
        raise PresetError(f"training={os.fspath(training)!r}: no such run folder or config.json "
                          "(pass the model_dir training.train wrote, or its config.json).")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise PresetError(f"training={path!r} is not a run's config.json (a JSON object).")
    return path


def describe(model, name, classes, class_names, top1, top1_data, licence):
    """The facts `config.json` records about `model` (all JSON)."""
    statistics = sum(int(np.prod(w.shape)) for w in model.weights
                     if w.path.endswith(("moving_mean", "moving_variance")))
    return {
        "format": FORMAT, "version": VERSION, "model": name,
        "keras": _json(keras.saving.serialize_keras_object(model)),
        "classes": classes, "class_names": list(class_names) if class_names else None,
        "preprocessing": getattr(model, "preprocessing", None),
        "evaluation": getattr(model, "evaluation", None),
        "top1": top1, "top1_data": top1_data, "licence": licence,
        # the papers' and torchvision's count: without BN's moving statistics
        "parameters": int(model.count_params()) - statistics,
        "statistics": statistics,
        "input_shape": _json(model.input_shape[1:]),
        "keras_version": keras.__version__}


def save_preset(model, path, *, model_name=None, class_names=None, top1=None, top1_data=None,
                training=None, licence=None, description=None, overwrite=False):
    """Saves `model` as a preset folder at `path` (see the module's docstring) and returns the
    path. `model_name`: its registry name (default: `model.name` when registered);
    `class_names`: one name per class; `top1` (a fraction) with `top1_data`, the data it was
    measured on; `training`: the run's model_dir or config.json (`training.train`'s); `licence`
    and `description` go into the model card.

    Example:
        >>> kd.save_preset(model, "presets/flowers-r50", top1=0.93,
        ...                top1_data="tf_flowers, 367 held-out photos")  # doctest: +SKIP
        >>> kd.ResNet50(weights="presets/flowers-r50")  # doctest: +SKIP
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if os.path.exists(path) and not overwrite:
        raise PresetError(f"save_preset: {path} exists; pass overwrite=True to replace it.")
    name = registry_name(model, model_name)
    classes = _check_facts(model, class_names, top1, top1_data, licence)
    training_path = training_config_path(training) if training is not None else None
    facts = describe(model, name, classes, class_names, top1, top1_data, licence)
    facts["training_config"] = TRAINING if training_path else None
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    stem = f".{os.path.basename(path)}."
    for entry in os.listdir(parent):  # what a killed save left
        if entry.startswith(stem) and entry.endswith((".part", ".part.old")):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
    tmp = os.path.join(parent, f"{stem}{os.getpid()}.part")
    try:
        _write(model, tmp, facts, training_path, description)
        _replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _write(model, folder, facts, training_path, description):
    os.makedirs(folder)
    model.save_weights(os.path.join(folder, WEIGHTS))
    with open(os.path.join(folder, CONFIG), "w", encoding="utf-8") as f:
        json.dump(facts, f, indent=1)
    training = None
    if training_path:
        shutil.copyfile(training_path, os.path.join(folder, TRAINING))
        with open(training_path, encoding="utf-8") as f:
            training = json.load(f)
    hashes = {n: store.file_digest(os.path.join(folder, n))
              for n in (CONFIG, WEIGHTS, TRAINING) if os.path.isfile(os.path.join(folder, n))}
    with open(os.path.join(folder, CARD), "w", encoding="utf-8") as f:
        f.write(model_card(facts, hashes, training, description))
    hashes[CARD] = store.file_digest(os.path.join(folder, CARD))
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump({"sha256": hashes}, f, indent=1)


def _replace(tmp, path):
    """Renames the finished folder `tmp` to `path`; an old preset there is moved aside first
    and removed only once the new one is in place."""
    old = None
    if os.path.exists(path):
        old = f"{tmp}.old"
        os.replace(path, old)
    os.replace(tmp, path)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _percent(value):
    return f"{100 * value:.2f}%"


def _card_rows(facts):
    evaluation = facts["evaluation"]
    classes = facts["classes"]
    names = facts["class_names"]
    shown = (f"{classes}: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''}"
             if names else f"{classes} (names not recorded)")
    config = facts["keras"]["config"]
    return [
        ("Registry name", f"`{facts['model']}`"),
        ("Architecture", f"`{facts['keras']['class_name']}`" + "".join(
            f", {k}={config[k]}" for k in ("stage_depths", "shortcut", "stride_in_1x1",
                                            "variant", "batch_norm") if k in config)),
        ("Parameters", f"{facts['parameters']:,}" + (
            f" (and {facts['statistics']:,} BN moving statistics)" if facts["statistics"]
            else "")),
        ("Input", " x ".join("any" if d is None else str(d) for d in facts["input_shape"])),
        ("Preprocessing", f"`{facts['preprocessing'] or 'caffe'}` (`kd.preprocess_input(x, "
                          "model=model)`)"),
        ("Evaluation transform", f"resize {evaluation['resize']}, centre crop "
                                 f"{evaluation['crop']}, {evaluation['interpolation']}"
         if evaluation else "not recorded"),
        ("Classes", shown),
        ("Top-1", f"{_percent(facts['top1'])} on {facts['top1_data']}" if facts["top1"]
         is not None else "not measured"),
        ("Licence", facts["licence"] or "not stated"),
        ("Keras", facts["keras_version"]),
    ]


def _constructor_call(name):
    """The named constructor's call that loads a preset of `name` (with the registered
    defaults that pick the variant), when the constructor is one of the package's."""
    info = registry.model_info(name)
    label = getattr(info.constructor, "__name__", None)
    if not label or not info.constructor.__module__.startswith("keras_deepnets."):
        return []
    args = "".join(f"{k}={v!r}, " for k, v in sorted(info.kwargs.items()))
    return [f"model = kd.{label}({args}weights=PRESET)  # the same"]


def model_card(facts, hashes, training=None, description=None):
    """The preset's README.md: a Hugging Face model card made from `facts` (config.json's)."""
    front = ["---", "library_name: keras", f"tags: [keras-deepnets, image-classification, "
             f"{facts['model']}]"]
    if facts["licence"]:
        front.append(f"license: {facts['licence']}")
    lines = [*front, "---", "", f"# {facts['model']} (keras_deepnets preset)", ""]
    if description:
        lines += [description, ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in _card_rows(facts)]
    lines += ["", "## How to load", "", "```python", "import keras_deepnets as kd", "",
              "# PRESET: this folder's path, file://<path>, or hf://<owner>/<repo>[@<revision>]",
              f"model = kd.get_model({facts['model']!r}, weights=PRESET)",
              *_constructor_call(facts["model"]), "```", ""]
    if training is not None:
        # a run's config.json: the settings as requested (and as resolved by the recipe)
        settings = training.get("requested", training)
        lines += ["## Training", "", "The `training.train` settings the run was given (all of "
                  f"them, as resolved, in `{TRAINING}`):", "", "| setting | value |", "|---|---|"]
        lines += [f"| {k} | `{json.dumps(v)}` |" for k, v in sorted(settings.items())
                  if v not in (None, [], {}, "")]
        lines.append("")
    lines += ["## Files", "", "`manifest.json` holds the SHA-256 of every file; loading checks "
              "them.", "", "| file | SHA-256 |", "|---|---|"]
    lines += [f"| {n} | `{h}` |" for n, h in sorted(hashes.items())]
    return "\n".join(lines) + "\n"


def read(folder, source=None):
    """The facts of the preset in `folder` (its config.json), after checking every file against
    manifest.json. `source` names it in errors (the `weights=` value)."""
    source = source or folder
    manifest_path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(manifest_path):
        raise PresetError(f"weights={source!r} is a folder but no preset: it has no "
                          f"{MANIFEST} (kd.save_preset writes it, with {CONFIG} and "
                          f"{WEIGHTS}).")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            hashes = json.load(f)["sha256"]
    except (ValueError, KeyError, TypeError):
        raise PresetError(f"weights={source!r}: {MANIFEST} is damaged (not the JSON "
                          "kd.save_preset writes).") from None
    for name, expected in sorted(hashes.items()):
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise PresetError(f"weights={source!r}: {name} is missing (listed in {MANIFEST}).")
        if store.file_digest(path) != expected:
            raise PresetError(f"weights={source!r}: {name} does not match its SHA-256 in "
                              f"{MANIFEST} (changed or damaged); save or download it again.")
    if CONFIG not in hashes or WEIGHTS not in hashes:
        raise PresetError(f"weights={source!r}: {MANIFEST} does not vouch for {CONFIG} and "
                          f"{WEIGHTS}.")
    with open(os.path.join(folder, CONFIG), encoding="utf-8") as f:
        facts = json.load(f)
    if facts.get("format") != FORMAT or facts.get("version") != VERSION:
        raise PresetError(f"weights={source!r}: {CONFIG} is no keras_deepnets preset of "
                          f"version {VERSION}.")
    return facts


def hub_parts(tag):
    """"hf://owner/repo@rev" -> ("owner/repo", "rev"), parsed as every Hub handle is
    (`hub.repo_of`); the revision is None when not given."""
    try:
        return hub.repo_of(tag)
    except table.WeightsError:
        raise PresetError(f"weights={tag!r}: a Hub preset is hf://<owner>/<repository>"
                          "[@<revision>], e.g. hf://team/resnet50-flowers@v1.") from None


def _hub_folder(tag):
    """The local folder of the Hub preset `tag` (downloaded), or None when the repository holds
    something else (timm's weights, which `weights.hub` loads)."""
    repo, revision = hub_parts(tag)
    local = hub.local_only()
    config = hub.call(lambda: huggingface_hub.hf_hub_download(
        repo, CONFIG, revision=revision, local_files_only=local), tag, f"{CONFIG} of {repo}",
        repo)
    try:
        with open(config, encoding="utf-8") as f:
            is_preset = json.load(f).get("format") == FORMAT
    except (ValueError, AttributeError):
        is_preset = False
    if not is_preset:
        return None
    return hub.call(lambda: huggingface_hub.snapshot_download(
        repo, revision=revision, local_files_only=local), tag,
        f"the preset {repo}" + (f" at revision {revision}" if revision else ""), repo)


def _file_url_path(weights):
    parsed = urllib.parse.urlparse(weights)
    if parsed.netloc not in ("", "localhost"):
        raise PresetError(f"weights={weights!r}: a file:// URL names a local folder "
                          "(file:///path/to/preset).")
    return urllib.request.url2pathname(parsed.path)


def find(weights):
    """The local folder of the preset `weights` names (a folder path, `file://`, or a Hub
    repository holding a preset), or None when `weights` names anything else (None, a tag, a
    file, timm's Hub repository). Does not check the folder (`read` does)."""
    if not isinstance(weights, (str, os.PathLike)):
        return None
    text = os.fspath(weights)
    if text.startswith(FILE_PREFIX):
        path = _file_url_path(text)
        if not os.path.isdir(path):
            raise PresetError(f"weights={text!r}: no such folder {path!r} (a file:// URL "
                              "names a preset folder).")
        return path
    if table.is_hub_tag(text):
        return _hub_folder(text)
    path = os.path.expanduser(text)
    return path if os.path.isdir(path) else None


def _rebuilt(facts, folder, source, changes):
    """The preset's model, rebuilt from its Keras config with the `changes` that leave the
    weights' shapes alone (popped), with its weights."""
    keras_config = dict(facts["keras"])
    if hasattr(keras.saving.get_registered_object(keras_config.get("registered_name")),
               "_set_arch"):  # our models' configs are their constructor arguments
        keras_config["config"] = {**keras_config["config"], **{
            k: changes.pop(k) for k in CHANGEABLE[:2] if k in changes}}
    try:
        model = keras.saving.deserialize_keras_object(keras_config)
    except Exception as error:
        raise PresetError(f"weights={source!r}: {CONFIG} does not rebuild a model "
                          f"({type(error).__name__}: {str(error).splitlines()[0]}).") from None
    loading.load_weights_file(model, os.path.join(folder, WEIGHTS))
    return model


def _changes(facts, source, kwargs):
    """The caller's arguments that change the rebuilt model (`CHANGEABLE`); any other argument
    must agree with the preset's, else a one-line error naming both."""
    # a plain functional model's config is its layers: its classes and input come from the facts
    config = {"classes": facts["classes"], "input_shape": facts["input_shape"],
              **facts["keras"]["config"]}
    changes = {}
    for key, value in kwargs.items():
        if value is None or key == "weights":
            continue
        if key in CHANGEABLE:
            if key not in config or _json(config[key]) != _json(value):
                changes[key] = value
        elif key not in config:
            raise PresetError(f"{key}= cannot be given with weights={source!r} (a preset of "
                              f"{facts['model']}); the preset decides it.")
        elif _json(config[key]) != _json(value):
            raise PresetError(f"weights={source!r} holds {facts['model']} with {key}="
                              f"{config[key]!r}; got {key}={value!r}. Leave {key} unset.")
    return changes


def load_preset(preset, expected=None, **kwargs):
    """The model of the preset `preset` (a folder, `file://<folder>` or `hf://owner/repo[@rev]`)
    with its weights, preprocessing and evaluation transform. `expected`: the registry names
    the caller builds (a named constructor's); a preset of another architecture is a one-line
    error naming both. `kwargs` in `CHANGEABLE` (include_top=False, classes=..., ...) rebuild
    it with those and carry its weights over (`transfer`); others must agree with it.

    Example:
        >>> model = kd.load_preset("presets/flowers-r50")  # doctest: +SKIP
    """
    folder = find(preset)
    if folder is None:
        raise PresetError(f"weights={os.fspath(preset)!r} is no preset: pass a folder "
                          "kd.save_preset wrote, file://<folder>, or "
                          "hf://<owner>/<repo>[@<revision>].")
    return load_folder(folder, preset, expected, **kwargs)


def load_folder(folder, source, expected=None, **kwargs):
    """`load_preset` of the local preset `folder` (`find(source)`)."""
    source = os.fspath(source)
    facts = read(folder, source)
    expected = (expected,) if isinstance(expected, str) else expected
    if expected and facts["model"] not in expected:
        raise PresetError(f"weights={source!r} is a preset of {facts['model']}, not "
                          f"{' or '.join(expected)}; load it with kd.get_model("
                          f"{facts['model']!r}, weights={source!r}).")
    changes = _changes(facts, source, kwargs)
    model = _rebuilt(facts, folder, source, changes)
    if changes:
        if not hasattr(model, "_arch"):
            raise PresetError(f"weights={source!r}: {facts['model']} cannot be rebuilt with "
                              f"{', '.join(sorted(changes))}; load it as saved.")
        model = transfer(model, **changes)
    return model


def upload_plan(folder, repo_id, revision=None, commit_message=None, private=False):
    """What publishing the preset `folder` to the Hub repository `repo_id` calls, checked
    first (the folder is a preset and every file matches its manifest): [(HfApi method,
    keyword arguments)] -- create_repo, create_branch for a revision other than main, and
    upload_folder of the preset's files only."""
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise PresetError(f"repo_id must be <owner>/<repository>; got {repo_id!r}.")
    folder = os.path.abspath(os.path.expanduser(os.fspath(folder)))
    if not os.path.isdir(folder):
        raise PresetError(f"{folder!r} is no folder (pass a folder kd.save_preset wrote).")
    facts = read(folder)
    with open(os.path.join(folder, MANIFEST), encoding="utf-8") as f:
        files = sorted(json.load(f)["sha256"]) + [MANIFEST]
    message = commit_message or (f"Upload {facts['model']} preset" + (
        f" (top-1 {_percent(facts['top1'])} on {facts['top1_data']})"
        if facts["top1"] is not None else ""))
    calls = [("create_repo", {"repo_id": repo_id, "repo_type": "model", "private": private,
                              "exist_ok": True})]
    if revision not in (None, "main"):
        calls.append(("create_branch", {"repo_id": repo_id, "branch": revision,
                                        "exist_ok": True}))
    calls.append(("upload_folder", {"repo_id": repo_id, "folder_path": folder,
                                    "revision": revision, "commit_message": message,
                                    "allow_patterns": files}))
    return calls


def push_preset(folder, repo_id, revision=None, commit_message=None, private=False,
                api=None):
    """Publishes the preset `folder` to the Hub (`upload_plan`'s calls on `api`, default
    `huggingface_hub.HfApi()`: its token from HF_TOKEN or `huggingface-cli login`). Returns the
    `weights=` handle pinned to the new commit, hf://<repo_id>@<commit>."""
    api = api or huggingface_hub.HfApi()
    result = None
    for method, kwargs in upload_plan(folder, repo_id, revision, commit_message, private):
        result = getattr(api, method)(**kwargs)
    return f"{table.HUB_PREFIX}{repo_id}@{result.oid}"

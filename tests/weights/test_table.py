"""The pretrained-weights table (weights/table.py): its rows, checked against what the publishers
publish (keras.applications' own hashes and URLs, read from Keras's modules; torchvision's weights
enums, written down below), tags and their resolution, and what a model built for pretrained
weights takes from it: the BN epsilon the weights were trained with (a conflicting explicit one
is an error). keras.applications' files cannot be served here (their published MD5s), so the
epsilon tests replace the row loader; every other loading test (test_store.py) downloads from a
real server."""

import dataclasses
import inspect
import re

import keras
import pytest
from keras.src.applications import resnet as keras_resnet
from keras.src.applications import vgg16 as keras_vgg16
from keras.src.applications import vgg19 as keras_vgg19

import keras_deepnets as kd
from keras_deepnets.weights import table
from keras_deepnets.models.blocks import BlockOptions

KA_EPSILON = table.KERAS_APPLICATIONS_BN_EPSILON


@pytest.fixture
def loads(monkeypatch):
    """The rows the models ask to load, instead of downloading them."""
    rows = []
    monkeypatch.setattr("keras_deepnets.weights.loading.load_row",
                        lambda model, row: rows.append((model.name, row)))
    return rows


def _bn_epsilons(model):
    return {layer.epsilon for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)}


def test_table_rows_are_frozen_and_complete():
    with_imagenet = sorted({row.model for row in table.rows(tag="imagenet")})
    assert with_imagenet == sorted(
        {row.model for row in table.SOURCES})  # every ImageNet model with published weights
    assert len(with_imagenet) == 18
    for row in (r for r in table.SOURCES if r.publisher == table.KERAS_APPLICATIONS):
        assert row.tag == "imagenet" and table.resolve(row.model, "imagenet") is row
        assert callable(getattr(keras.applications, row.architecture))
        assert row.preprocessing == "caffe" and 70 < row.top1 < 80
        assert row.bn_epsilon == (KA_EPSILON if row.model.startswith("resnet") else None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.rows("resnet50", "imagenet")[0].bn_epsilon = 1e-5
    assert table.rows("resnet20", "imagenet") == []


def _keras_vgg_files(module):
    """(URL of the file, its MD5) with and without the classifier, as keras/src/applications/
    vgg{16,19}.py publish them: the WEIGHTS_PATH constants and the file_hash of get_file."""
    hashes = re.findall(r'file_hash="([0-9a-f]{32})"', inspect.getsource(module))
    return [(module.WEIGHTS_PATH, hashes[0]), (module.WEIGHTS_PATH_NO_TOP, hashes[1])]


def _keras_resnet_files(model):
    """The same for keras/src/applications/resnet.py: BASE_WEIGHTS_PATH, the file names
    f"{weights_name}<suffix>" it downloads, and WEIGHTS_HASHES."""
    suffixes = re.findall(r'f"\{weights_name\}([^"]+\.h5)"', inspect.getsource(keras_resnet))
    return [(keras_resnet.BASE_WEIGHTS_PATH + model + suffix, md5)
            for suffix, md5 in zip(suffixes, keras_resnet.WEIGHTS_HASHES[model])]


def test_keras_applications_rows_are_the_files_keras_publishes():
    """Each row's URLs and MD5s (with and without the classifier) are Keras's own."""
    published = {"vgg16": _keras_vgg_files(keras_vgg16), "vgg19": _keras_vgg_files(keras_vgg19),
                 **{m: _keras_resnet_files(m) for m in ("resnet50", "resnet101", "resnet152")}}
    rows = {r.model: r for r in table.SOURCES if r.publisher == table.KERAS_APPLICATIONS}
    assert sorted(rows) == sorted(published)
    for model, row in rows.items():
        ours = [(row.url + row.file_name(top), row.hash_for(top)) for top in (True, False)]
        assert ours == published[model], model
        assert row.file_name(False).endswith("_notop.h5")


# torchvision's weights enums, as torchvision/models/{resnet,vgg,alexnet,googlenet}.py publish
# them: enum member, file (its name carries the first 8 hex digits of its SHA-256), acc@1,
# acc@5, the ImageClassification transform's resize_size (crop_size is 224 for every one;
# resize 256 and bilinear interpolation are ImageClassification's defaults), _file_size (MB).
# Each enum's DEFAULT is its V2 where it has one, else its V1. Our registry name first.
TORCHVISION_ENUMS = [
    ("resnet18", "IMAGENET1K_V1", "resnet18-f37072fd.pth", 69.758, 89.078, 256, 44.661),
    ("resnet34", "IMAGENET1K_V1", "resnet34-b627a593.pth", 73.314, 91.420, 256, 83.275),
    ("resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth", 76.130, 92.862, 256, 97.781),
    ("resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 80.858, 95.434, 232, 97.79),
    ("resnet101", "IMAGENET1K_V1", "resnet101-63fe2227.pth", 77.374, 93.546, 256, 170.511),
    ("resnet101", "IMAGENET1K_V2", "resnet101-cd907fc2.pth", 81.886, 95.780, 232, 170.53),
    ("resnet152", "IMAGENET1K_V1", "resnet152-394f9c45.pth", 78.312, 94.046, 256, 230.434),
    ("resnet152", "IMAGENET1K_V2", "resnet152-f82ba261.pth", 82.284, 96.002, 232, 230.474),
    ("resnext50_32x4d", "IMAGENET1K_V1", "resnext50_32x4d-7cdf4587.pth", 77.618, 93.698, 256,
     95.789),
    ("resnext50_32x4d", "IMAGENET1K_V2", "resnext50_32x4d-1a0047aa.pth", 81.198, 95.340, 232,
     95.833),
    ("resnext101_32x8d", "IMAGENET1K_V1", "resnext101_32x8d-8ba56ff5.pth", 79.312, 94.526, 256,
     339.586),
    ("resnext101_32x8d", "IMAGENET1K_V2", "resnext101_32x8d-110c445d.pth", 82.834, 96.228, 232,
     339.673),
    ("resnext101_64x4d", "IMAGENET1K_V1", "resnext101_64x4d-173b62eb.pth", 83.246, 96.454, 232,
     319.318),
    ("vgg11", "IMAGENET1K_V1", "vgg11-8a719046.pth", 69.020, 88.628, 256, 506.84),
    ("vgg11_bn", "IMAGENET1K_V1", "vgg11_bn-6002323d.pth", 70.370, 89.810, 256, 506.881),
    ("vgg13", "IMAGENET1K_V1", "vgg13-19584684.pth", 69.928, 89.246, 256, 507.545),
    ("vgg13_bn", "IMAGENET1K_V1", "vgg13_bn-abd245e5.pth", 71.586, 90.374, 256, 507.59),
    ("vgg16", "IMAGENET1K_V1", "vgg16-397923af.pth", 71.592, 90.382, 256, 527.796),
    ("vgg16_bn", "IMAGENET1K_V1", "vgg16_bn-6c64b313.pth", 73.360, 91.516, 256, 527.866),
    ("vgg19", "IMAGENET1K_V1", "vgg19-dcbb9e9d.pth", 72.376, 90.876, 256, 548.051),
    ("vgg19_bn", "IMAGENET1K_V1", "vgg19_bn-c79401a0.pth", 74.218, 91.842, 256, 548.143),
    ("alexnet_torchvision", "IMAGENET1K_V1", "alexnet-owt-7be5be79.pth", 56.522, 79.066, 256,
     233.087),
    ("googlenet_torchvision", "IMAGENET1K_V1", "googlenet-1378be20.pth", 69.778, 89.530, 256,
     49.731),
]


def test_torchvision_rows_are_torchvisions_enums():
    rows = {r.file: r for r in table.SOURCES if r.publisher == table.TORCHVISION}
    assert sorted(rows) == sorted(e[2] for e in TORCHVISION_ENUMS)
    for model, member, file, top1, top5, resize, size_mb in TORCHVISION_ENUMS:
        row = rows[file]
        assert (row.model, row.tag, row.top1, row.top5, row.size_mb) == (
            model, member, top1, top5, size_mb), file
        assert (row.resize, row.crop, row.interpolation) == (resize, 224, "bilinear"), file
        assert row.url + row.file == "https://download.pytorch.org/models/" + file
        assert row.file_hash == re.search(r"-([0-9a-f]{8})\.pth$", file).group(1)
        assert table.rows(file=f"/cache/{file}") == [row]
    for model in {e[0] for e in TORCHVISION_ENUMS}:  # DEFAULT: the V2 file, else the V1
        members = {e[1]: e[2] for e in TORCHVISION_ENUMS if e[0] == model}
        default = members.get("IMAGENET1K_V2", members["IMAGENET1K_V1"])
        assert table.resolve(model, "DEFAULT").file == default, model
        assert [r.file for r in rows.values() if r.model == model and r.default] == [default]
    assert all(row.model in kd.list_models() for row in rows.values())


@pytest.mark.parametrize("model, tag, file", [
    ("resnet34", "imagenet", "resnet34-b627a593.pth"),  # no keras.applications ResNet-34
    ("resnet50", "imagenet", "resnet50_weights_tf_dim_ordering_tf_kernels.h5"),  # its contract
    ("resnet50", "IMAGENET1K_V1", "resnet50-0676ba61.pth"),
    ("resnet50", "IMAGENET1K_V2", "resnet50-11ad3fa6.pth"),
    ("resnet50", "DEFAULT", "resnet50-11ad3fa6.pth"),  # torchvision's best
    ("vgg16", "DEFAULT", "vgg16-397923af.pth"),
    ("vgg16_bn", "imagenet", "vgg16_bn-6c64b313.pth"),
    ("resnext101_64x4d", "DEFAULT", "resnext101_64x4d-173b62eb.pth"),
    (("googlenet", "googlenet_torchvision"), "imagenet", "googlenet-1378be20.pth"),
])
def test_tags_resolve_as_torchvision_and_keras_applications_spell_them(model, tag, file):
    assert table.resolve(model, tag).file == file


@pytest.mark.parametrize("model, tag, message", [
    ("resnet34", "IMAGENET1K_V2", "resnet34 has no weights tagged 'IMAGENET1K_V2'.*resnet50"),
    ("resnet20", "imagenet", "resnet20 has no pretrained weights"),
    ("resnet18", "imagenet1k_v1", "Its tags: imagenet, DEFAULT, IMAGENET1K_V1"),
])
def test_unknown_tags_list_the_models_tags(model, tag, message):
    with pytest.raises(table.WeightsError, match=message):
        table.resolve(model, tag)


def test_list_and_register_weights(kd_home):
    assert [row.tag for row in kd.list_weights("resnet50")] == [
        "imagenet", "IMAGENET1K_V1", "IMAGENET1K_V2"]
    assert len(kd.list_weights()) == 28
    first = kd.list_weights("resnet18")[0].as_dict()
    assert {"model", "tag", "publisher", "url", "file_hash", "size_mb", "top1", "top5",
            "resize", "crop", "interpolation", "preprocessing", "licence"} <= set(first)
    sha = "ab" * 32
    row = kd.register_weights("team-v3", model="ResNet50", url="http://h/x/r50.weights.h5",
                              sha256=sha, top1=79.0)
    try:
        assert (row.model, row.format, row.url, row.file) == (
            "resnet50", table.KERAS_WEIGHTS, "http://h/x/", "r50.weights.h5")
        assert table.resolve("resnet50", "team-v3") == row and row in kd.list_weights("resnet50")
        other = {"model": "resnet50", "url": "http://h/a.pth", "sha256": "cd" * 32}
        with pytest.raises(table.WeightsError, match=r"resnet50 already has weights tagged "
                           r"'team-v3', another file \(http://h/x/r50\.weights\.h5, sha256 abab"):
            kd.register_weights("team-v3", **other)
        with pytest.raises(table.WeightsError, match="already has weights tagged 'IMAGENET1K_V1'"):
            kd.register_weights("IMAGENET1K_V1", **other, overwrite=True)  # published: never
        assert kd.register_weights("team-v3", **other, overwrite=True) == table.resolve(
            "resnet50", "team-v3")
        assert [(r.file, r.model_kwargs) for r in kd.list_weights("resnet50")[3:]] == [
            ("a.pth", (("stride_in_1x1", False),))]
        # the same file again (a script that registers at every start): the row is updated
        kd.register_weights("team-v3", **other, top1=80.5)
        assert table.resolve("resnet50", "team-v3").top1 == 80.5
    finally:
        assert table.unregister_weights("resnet50", "team-v3")  # the older argument order
    assert not kd.unregister_weights("team-v3") and len(kd.list_weights()) == 28
    for kwargs, message in [
        ({"tag": "imagenet"}, "tag must be a name"),
        ({"url": "ftp://h/a.pth"}, "url must start with"),
        ({"sha256": "f37072fd"}, "full SHA-256, 64 hex"),
        ({"url": "http://h/a.onnx"}, "must end in .weights.h5"),
        ({"model": "resnet99"}, "Unknown model 'resnet99'"),
        ({"preprocessing": "imagenet"}, "preprocessing must be one of"),
    ]:
        args = {"tag": "t", "model": "resnet18", "url": "http://h/a.pth", "sha256": sha,
                **kwargs}
        with pytest.raises(ValueError, match=message):
            kd.register_weights(args.pop("tag"), **args)


@pytest.mark.parametrize("bn_epsilon", [None, KA_EPSILON])
def test_pretrained_resnet_is_built_with_the_weights_epsilon(bn_epsilon, loads):
    """Unset, or explicitly the weights' own: the model is built with keras.applications'
    1.001e-5."""
    model = kd.ResNet50(weights="imagenet", include_top=False, input_shape=(64, 64, 3),
                        bn_epsilon=bn_epsilon)
    assert _bn_epsilons(model) == {KA_EPSILON}
    assert model.get_config()["bn_epsilon"] == KA_EPSILON
    assert loads == [("resnet50", table.rows("resnet50", "imagenet")[0])]


@pytest.mark.parametrize("bn_epsilon", [1e-5, 1e-3])
def test_a_conflicting_explicit_epsilon_is_an_error(bn_epsilon, loads):
    """Before: the explicit epsilon was silently replaced by the weights' one."""
    with pytest.raises(ValueError) as info:
        kd.ResNet50(weights="imagenet", bn_epsilon=bn_epsilon)
    message = str(info.value)
    assert f"bn_epsilon={bn_epsilon!r}" in message and repr(KA_EPSILON) in message
    assert not loads


def test_without_pretrained_weights_the_epsilon_is_the_callers_or_1e_5():
    assert _bn_epsilons(kd.ResNet20()) == {1e-5}
    assert _bn_epsilons(kd.ResNet20(bn_epsilon=1e-3)) == {1e-3}
    assert kd.ResNet20(bn_epsilon=1e-3).get_config()["bn_epsilon"] == 1e-3
    with pytest.raises(ValueError, match="bn_epsilon must be a positive number"):
        kd.ResNet20(bn_epsilon=0)


def test_block_options_are_immutable_and_normalised():
    opts = BlockOptions("b", stride_in_1x1=0, bn_epsilon=1, bn_momentum=0.99)
    assert (opts.shortcut, opts.stride_in_1x1, opts.bn_epsilon) == ("B", False, 1.0)
    assert BlockOptions("plain").shortcut is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.bn_epsilon = 1e-3
    assert dataclasses.replace(opts, bn_epsilon=1e-3).bn_epsilon == 1e-3 and opts.bn_epsilon == 1.0
    with pytest.raises(ValueError, match="Unknown shortcut option"):
        BlockOptions("D")


def test_torchvision_files_say_which_weights_set_they_are():
    # the same tensors' shapes, two weights sets: the file name tells V1 (resize 256) from V2
    (v1,), (v2,) = (table.rows(file=f"/cache/{name}") for name in
              ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"))
    assert (v1.resize, v1.top1, v2.resize, v2.top1) == (256, 76.130, 232, 80.858)
    assert dict(v2.model_kwargs) == {"stride_in_1x1": False, "bn_epsilon": 1e-5}  # v1.5
    assert [r.preprocessing for r in table.rows(file="googlenet-1378be20.pth")] == ["tf"]
    assert table.rows(file="my_resnet.pth") == []
    assert max(r.top1 for r in table.rows("resnet50")) == 80.858  # the best of three files
    assert table.rows("resnet20") == []


@pytest.mark.parametrize("model, url, built, kwargs", [
    ("resnet152", "http://h/r152.pth", "resnet152", {"stride_in_1x1": False}),
    ("resnext50_32x4d", "http://h/x.safetensors", "resnext50_32x4d", {"stride_in_1x1": False}),
    ("resnet18", "http://h/r18.npz", "resnet18", {}),
    ("alexnet", "http://h/a.pth", "alexnet_torchvision", {}),
    ("googlenet", "http://h/g.pth", "googlenet_torchvision", {}),
    ("vgg16", "http://h/v.pth", "vgg16", {}),
    ("resnet152", "http://h/r152.weights.h5", "resnet152", {}),  # our own file: as it is
])
def test_a_registered_torchvision_file_builds_torchvisions_variant(model, url, built, kwargs,
                                                                   kd_home):
    row = kd.register_weights("t", model=model, url=url, sha256="ab" * 32)
    try:
        assert (row.model, dict(row.model_kwargs)) == (built, kwargs)
    finally:
        assert kd.unregister_weights("t")


@pytest.mark.parametrize("model, model_kwargs, message", [
    ("resnet152", {"stride_in_1x1": True}, r"r\.pth is a torchvision-layout file, which holds "
     r"torchvision's resnet152 \(stride_in_1x1=False\); model_kwargs has stride_in_1x1=True"),
    ("alexnet", {"variant": "paper"}, r"holds torchvision's alexnet_torchvision "
     r"\(variant='torchvision'\); model_kwargs has variant='paper'"),
])
def test_constructor_arguments_that_contradict_the_file_are_refused(model, model_kwargs,
                                                                    message, kd_home):
    with pytest.raises(table.WeightsError, match=message) as info:
        kd.register_weights("t", model=model, url="http://h/r.pth", sha256="ab" * 32,
                            model_kwargs=model_kwargs)
    assert len(str(info.value).splitlines()) == 1
    assert all(row.tag != "t" for row in kd.list_weights())


def test_list_weights_shows_a_table_and_stays_a_list_of_rows(kd_home, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    rows = kd.list_weights("resnet50")
    assert rows == [table.rows("resnet50", t)[0] for t in ("imagenet", "IMAGENET1K_V1",
                                                             "IMAGENET1K_V2")]
    assert rows[-1].file == "resnet50-11ad3fa6.pth" and isinstance(rows[0], table.Pretrained)
    lines = repr(rows).splitlines()
    assert lines[0].split() == ["tag", "publisher", "top-1", "%", "MB", "preprocessing", "cached"]
    assert lines[4].split() == ["IMAGENET1K_V2", "(DEFAULT)", "torchvision", "80.858", "97.8",
                                "torch", "no"]
    assert str(rows) == repr(rows) and len(lines) == 2 + len(rows)
    # cached: the downloaded file (torchvision's) or keras.applications' own cache
    (kd_home / "downloads").mkdir(parents=True)
    (kd_home / "downloads" / "resnet50-11ad3fa6.pth").write_bytes(b"")
    (tmp_path / "keras_home" / "models").mkdir(parents=True)
    (tmp_path / "keras_home" / "models" / rows[0].file_notop).write_bytes(b"")
    assert [line.split()[-1] for line in repr(rows).splitlines()[2:]] == ["yes", "no", "yes"]
    html = kd.list_weights("resnet50")._repr_html_()
    assert html.count("<tr>") == 4 and "<td>IMAGENET1K_V1</td><td>torchvision</td>" in html
    everything = repr(kd.list_weights()).splitlines()
    assert everything[0].split()[:2] == ["model", "tag"] and len(everything) == 2 + 28
    assert repr(table.WeightsTable()) == "(no weights rows)"

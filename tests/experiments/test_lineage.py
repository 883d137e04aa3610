"""The model table and the lineage picture (experiments/lineage.py, scripts/model_table.py)."""

from PIL import Image

import keras_deepnets as kd
from keras_deepnets.experiments import lineage


def test_table_rows_and_the_canziani_plot(tmp_path):
    rows = lineage.table(["lenet5", "alexnet_torchvision"], speed=True, batch_size=2, steps=1,
                         log=None)
    lenet, alexnet = rows
    assert (lenet["params"], lenet["top1"], lenet["input"]) == (60_850, None, 32)
    assert (alexnet["trainable"], alexnet["top1"]) == (61_100_840, 56.522)  # torchvision's
    assert alexnet["mult_adds"] == kd.model_stats(kd.get_model("alexnet_torchvision")).mult_adds
    assert all(r["images_per_sec"] > 0 for r in rows)
    table = lineage.markdown(rows)
    assert "| `alexnet_torchvision` | imagenet | 224x224 | 61,100,840 |" in table
    assert "| 56.5% |" in table
    path = lineage.plot(rows, str(tmp_path / "lineage.png"))  # LeNet: no ImageNet top-1
    assert Image.open(path).size == (800, 500)


def test_lineage_order():
    names = ["resnext50_32x4d", "resnet56", "plain20", "vgg16", "googlenet", "alexnet",
             "lenet5", "resnet20"]
    assert sorted(names, key=lineage.lineage_order) == [
        "lenet5", "alexnet", "vgg16", "googlenet", "resnet20", "resnet56", "plain20",
        "resnext50_32x4d"]


def test_published_accuracy_is_placed_at_its_own_networks_cost():
    (row,) = lineage.table(["resnet50"], log=None)
    assert row["top1"] == 80.858  # torchvision's V2 weights, a "v1.5" network
    assert round(row["mult_adds"] / 1e9, 2) == 3.86  # the paper's stride on the 1x1
    assert round(row["top1_mult_adds"] / 1e9, 2) == 4.09

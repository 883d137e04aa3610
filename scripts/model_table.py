"""Prints the README's model table (parameters and multiply-adds) from the registry itself.

    python scripts/model_table.py            # every registered model
    python scripts/model_table.py --models=resnet18,resnet50
"""

import _quiet_tf  # noqa: F401  (first: quiets TensorFlow's start-up logs; see its docstring)
from absl import app, flags

import keras_deepnets as kd

FLAGS = flags.FLAGS
# LeNet-5 -> AlexNet -> VGG -> GoogLeNet -> ResNet (and its plain twins) -> ResNeXt
LINEAGE = (("lenet",), ("alexnet",), ("vgg",), ("googlenet",), ("resnet", "plain"),
           ("resnext",))
flags.DEFINE_list("models", None, "Registry names (default: all).")


def main(argv):
    del argv
    def paper_order(name):  # the lineage, then ResNets by family and depth, plain after residual
        digits = "".join(c for c in name.split("_")[0] if c.isdigit())
        lineage = next((i for i, prefixes in enumerate(LINEAGE) if name.startswith(prefixes)),
                       len(LINEAGE))
        return (lineage, kd.model_info(name).family, name.startswith("plain"), int(digits or 0),
                name)

    names = FLAGS.models or sorted(kd.list_models(), key=paper_order)
    print("| model | family | input | parameters | trainable | multiply-adds |")
    print("|---|---|---|---:|---:|---:|")
    for name in names:
        info = kd.model_info(name)
        model = kd.get_model(name)
        stats = kd.model_stats(model)
        size = model.input_shape[1]  # AlexNet's paper variant: 227
        print(f"| `{name}` | {info.family} | {size}x{size} | {stats.params:,} | "
              f"{stats.trainable_params:,} | {stats.mult_adds / 1e9:.3f} G |",
              flush=True)
        del model


if __name__ == "__main__":
    app.run(main)

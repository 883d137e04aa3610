"""PyTorch's side of `benchmark.py deploy`: torchvision's ResNet-50 with the same weights, timed
in PyTorch's own virtual environment by the protocol of keras_deepnets/export/runtimes.py
(imported by path: that file needs numpy only; this script never imports keras_deepnets, so it
is no mode of benchmark.py, which runs in this project's environment).

    /tmp/torchenv/bin/python scripts/benchmarks/deploy_speed_torch.py --runtime=torch_eager \
        --path=resnet50_state.npz --images=images.npy --batches=1,32 [--outputs=out.npy]

--path: torchvision's state_dict as numpy arrays (.npz). Runtimes, all under
`torch.inference_mode()` in eval mode:
- torch_eager: the model as torchvision builds it (NCHW, contiguous);
- torch_eager_cl: channels-last weights and input, PyTorch's advice for CNNs on CPU (oneDNN's
  blocked convolutions take NHWC without reorders);
- torch_compile: `torch.compile` (default mode, inductor) of the channels-last model, one
  compiled function per batch size (`dynamic=False`: specialised to the shape, as a deployer
  serving fixed batches would); compilation happens in the warm-up calls.
The images arrive NHWC (the Keras models' layout) and are transposed once, outside the timing.
"""

import os
import sys

import numpy as np

try:  # --help works in any Python; a run needs PyTorch's venv, and says so (main)
    import torch
    import torchvision
except ImportError:
    torch = torchvision = None

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "keras_deepnets", "export"))
import runtimes  # noqa: E402  (the timing protocol, by path: no keras_deepnets import)

RUNTIMES = ("torch_eager", "torch_eager_cl", "torch_compile")


def build(state_path, channels_last, threads):
    if threads:
        torch.set_num_threads(threads)
    model = torchvision.models.resnet50()
    with np.load(state_path) as state:
        model.load_state_dict({k: torch.from_numpy(state[k]) for k in state.files})
    model.eval()
    return model.to(memory_format=torch.channels_last) if channels_last else model


def make_runner(runtime, model, channels_last):
    compiled = {}

    def run(images):
        x = images if torch.is_tensor(images) else to_torch(images, channels_last)
        with torch.inference_mode():
            if runtime == "torch_compile":
                if len(x) not in compiled:
                    compiled[len(x)] = torch.compile(model, dynamic=False)
                return compiled[len(x)](x).numpy()
            return model(x).numpy()

    return run


def to_torch(images, channels_last):
    x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def main():
    args = runtimes.worker_arguments()
    if args.runtime not in RUNTIMES:
        sys.exit(f"error: --runtime takes {', '.join(RUNTIMES)}; got {args.runtime!r}.")
    if torch is None:
        sys.exit(f"error: {os.path.basename(__file__)} needs torch and torchvision, which "
                 f"{sys.executable} lacks; `benchmark.py deploy` runs it with --torch_python=<the "
                 "python of a venv that has them>.")
    channels_last = args.runtime != "torch_eager"
    run = make_runner(args.runtime, build(args.path, channels_last, args.threads), channels_last)
    runtimes.run_worker(args, run, prepare=lambda x: to_torch(x, channels_last),
                        torch=torch.__version__, torch_threads=torch.get_num_threads())


if __name__ == "__main__":
    main()

"""Can the tf.data patch pipeline keep up with training? (96³ patches, batch 2, augmentation)

Measured side by side in one run on this machine:

1. patches per second of ``speccal.datasets.tfdata.patch_dataset`` (96³, the default
   :class:`~speccal.datasets.Augmenter`, foreground-biased sampling) drawn alone;
2. the time of one training step of the default ``speccal.models.unet3d`` on CPU, on a batch
   already in memory;
3. the time of one training step fed by the running pipeline (both competing for the cores),
   alternated step by step with (2).

Run: ``python benchmarks/bench_pipeline.py [--batches 8] [--steps 3]``.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=8, help="pipeline batches timed")
    parser.add_argument("--steps", type=int, default=3, help="training steps timed")
    parser.add_argument("--patch", type=int, default=96, help="cubic patch side")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from speccal.datasets import PreprocessedDataset, SyntheticPhantoms
    from speccal.datasets.tfdata import patch_dataset
    from speccal.models import unet3d

    patch = (args.patch,) * 3
    phantoms = SyntheticPhantoms(n_cases=4, shape=(144, 144, 112), seed=0)
    started = time.perf_counter()
    volumes = list(PreprocessedDataset(phantoms, cache_dir=False, target_spacing=None))
    prepare = time.perf_counter() - started
    data = patch_dataset(volumes, patch, batch_size=2, augment=True, seed=0)

    iterator = iter(data)
    first = next(iterator)  # warm-up: autotuning, tracing
    started = time.perf_counter()
    for _ in range(args.batches):
        next(iterator)
    load = (time.perf_counter() - started) / args.batches

    model = unet3d(
        in_channels=len(phantoms.modalities), n_classes=phantoms.n_classes, patch_size=patch
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.train_on_batch(*first)  # warm-up: tracing
    model.train_on_batch(*next(iterator))
    step = fed = 0.0
    for _ in range(args.steps):  # alternate, so load on the shared machine hits both alike
        started = time.perf_counter()
        model.train_on_batch(*first)
        step += (time.perf_counter() - started) / args.steps
        started = time.perf_counter()
        model.train_on_batch(*next(iterator))
        fed += (time.perf_counter() - started) / args.steps

    params = model.count_params()
    print(f"machine: {os.cpu_count()} CPU cores; tensorflow {tf.__version__}")
    print(f"phantoms: 4 volumes 144x144x112 x2 channels, preprocessed in {prepare:.2f} s")
    print(
        f"pipeline: {2 / load:7.2f} patches/s ({load:.3f} s per batch of 2 x {patch}, "
        "augmented, drawn alone)"
    )
    print(
        f"unet3d ({params} parameters, default settings): {step:.3f} s per training step "
        "on an in-memory batch"
    )
    print(f"training step fed by the running pipeline: {fed:.3f} s per step")
    print(
        f"ratio step / batch load = {step / load:.1f} (>1: loading keeps up); "
        f"pipeline-fed / in-memory step = {fed / step:.2f}"
    )


if __name__ == "__main__":
    main()

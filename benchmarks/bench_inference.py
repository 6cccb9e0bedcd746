"""Sliding-window inference and evaluation against their floors, side by side in one run.

(a) ``sliding_window_predict`` (device-side cutting and blending) against the bare model calls
    over the same windows (pre-cut batches, one compiled model call each), 3-D U-Net, on a
    128 x 128 x 96 x 2 and a 240 x 240 x 155 x 2 volume (goal <= 1.10 on CPU).
(b) ``speccal evaluate`` (``evaluate_run``: scoring overlapped with inference) on a small
    trained run against its inference alone over the same test cases (goal <= 1.15), with
    the sequential predict-then-score loop for comparison.

Usage: python benchmarks/bench_inference.py [--repeat 2] [--skip-large] [--skip-evaluate]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def best_time(func, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def bare_calls(model, volume, patch_size, batch_size, overlap=0.5):
    """The model calls of the sliding window alone: the same windows, cut beforehand."""
    import tensorflow as tf

    from speccal.inference import window_corners

    corners = window_corners(volume.shape[:-1], patch_size, overlap)
    cut = [tuple(slice(c, c + p) for c, p in zip(o, patch_size, strict=True)) for o in corners]
    windows = np.stack([volume[s] for s in cut])
    extra = -len(windows) % batch_size
    windows = np.concatenate([windows, np.zeros((extra, *windows.shape[1:]), np.float32)])
    starts = range(0, len(windows), batch_size)
    batches = [tf.constant(windows[i : i + batch_size]) for i in starts]
    call = tf.function(lambda x: model(x, training=False))

    def run():
        for batch in batches:
            call(batch).numpy()  # each call's result is complete before the next

    return run, len(corners)


def sliding_vs_bare(shape, repeat, patch_size=(64, 64, 64), batch_size=2):
    from speccal.inference import sliding_window_predict
    from speccal.models import unet3d

    model = unet3d(2, 4, base_filters=4, depth=3)
    volume = np.random.default_rng(0).normal(size=(*shape, 2)).astype(np.float32)
    bare, n_windows = bare_calls(model, volume, patch_size, batch_size)

    def sliding():
        sliding_window_predict(model, volume, patch_size, batch_size=batch_size)

    bare()
    sliding()  # compile both first
    times = {"bare": [], "sliding": []}
    for _ in range(repeat):  # interleaved: the machine's load drifts
        times["bare"].append(best_time(bare, 1))
        times["sliding"].append(best_time(sliding, 1))
    b, s = min(times["bare"]), min(times["sliding"])
    print(
        f"(a) {shape + (2,)}, {n_windows} windows of {patch_size}, batch {batch_size}: "
        f"bare model calls {b:7.2f} s  sliding_window_predict {s:7.2f} s  ratio {s / b:5.2f}"
        "  (goal <= 1.10)"
    )


def evaluate_vs_inference(repeat):
    from speccal.datasets import SyntheticPhantoms
    from speccal.experiments import RunConfig, _evaluate, evaluate_run, train_run

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        SyntheticPhantoms.write(root / "data", n_cases=8, shape=(96, 96, 64), seed=0)
        config = RunConfig(
            dataset="synthetic",
            root=str(root / "data"),
            epochs=1,
            steps_per_epoch=1,
            patch_size=(48, 48, 48),
            split=(2, 1, 5),
            model_params={"base_filters": 4, "depth": 3},
            cache_dir=str(root / "cache"),
        )
        run = root / "run"
        train_run(config, run, progress=False)
        split = json.loads((run / "split.json").read_text())["test"]

        def inference():
            for case_id in split:
                _evaluate.predict_case(run.resolve(), case_id)

        def sequential():
            for case_id in split:
                _evaluate.evaluate_case(run.resolve(), case_id)

        def evaluate():
            evaluate_run(run, progress=False)

        evaluate()
        times = {"inference": [], "evaluate": [], "sequential": []}
        for _ in range(repeat):
            times["inference"].append(best_time(inference, 1))
            times["evaluate"].append(best_time(evaluate, 1))
            times["sequential"].append(best_time(sequential, 1))
        i, e, q = (min(times[k]) for k in ("inference", "evaluate", "sequential"))
        print(
            f"(b) {len(split)} test volumes of (96, 96, 64): inference alone {i:6.2f} s  "
            f"evaluate (overlapped) {e:6.2f} s  ratio {e / i:5.2f}  (goal <= 1.15)  "
            f"sequential predict+score {q:6.2f} s  ratio {q / i:5.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-large", action="store_true", help="no 240 x 240 x 155 volume")
    parser.add_argument("--skip-evaluate", action="store_true", help="only (a)")
    args = parser.parse_args()
    sliding_vs_bare((128, 128, 96), args.repeat)
    if not args.skip_large:
        sliding_vs_bare((240, 240, 155), args.repeat)
    if not args.skip_evaluate:
        evaluate_vs_inference(args.repeat)


if __name__ == "__main__":
    main()

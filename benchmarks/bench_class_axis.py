"""Channel-first input (class_axis) against channels last, side by side in one run: ECE + SCE +
TACE with CalibrationEvaluator and TemperatureScaling.predict_proba on one 240 x 240 x 155 x 4
float32 volume, time and peak traced memory of each layout.

The channel-first array is read one transposed chunk at a time; the goal is a time ratio close
to 1 and a peak memory that does not grow by a copy of the volume.

Usage: python benchmarks/bench_class_axis.py [--shape 240 240 155] [--classes 4]
"""

import argparse
import gc
import time
import tracemalloc

import numpy as np

from speccal.evaluation import CalibrationEvaluator
from speccal.posthoc import TemperatureScaling


def measure(func, repeat=2):
    """Best wall time of ``repeat`` calls and the peak traced memory of one more."""
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    del result
    gc.collect()
    tracemalloc.start()
    func()  # the output (predict_proba: a volume) counts in both layouts
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(240, 240, 155))
    parser.add_argument("--classes", type=int, default=4)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shape, n_classes = tuple(args.shape), args.classes
    logits = rng.standard_normal((*shape, n_classes), dtype=np.float32) * 4
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    # labels from noisier logits: an over-confident model, a temperature inside its bounds
    noisy = logits + 4 * rng.standard_normal(logits.shape, dtype=np.float32)
    labels = noisy.argmax(-1).astype(np.uint8)
    del noisy
    logits_first = np.ascontiguousarray(np.moveaxis(logits, -1, 0))
    probs_first = np.ascontiguousarray(np.moveaxis(probs, -1, 0))
    scaler = TemperatureScaling().fit(logits[::4, ::4, ::4], labels[::4, ::4, ::4])
    scaler_first = TemperatureScaling(class_axis=0)
    scaler_first.fit(logits_first[:, ::4, ::4, ::4], labels[::4, ::4, ::4])
    cases = {
        "CalibrationEvaluator ece+sce+tace": (
            lambda: CalibrationEvaluator().fit(labels, probs).scores_,
            lambda: CalibrationEvaluator(class_axis=0).fit(labels, probs_first).scores_,
        ),
        "TemperatureScaling.predict_proba": (
            lambda: scaler.predict_proba(logits),
            lambda: scaler_first.predict_proba(logits_first),
        ),
    }
    volume_mb = probs.nbytes / 1e6
    print(f"volume {shape} x {n_classes} classes, float32: {volume_mb:.0f} MB")
    same = CalibrationEvaluator().fit(labels, probs).scores_ == (
        CalibrationEvaluator(class_axis=0).fit(labels, probs_first).scores_
    )
    print(f"scores equal bit for bit: {same}")
    print("| task | channels last (s) | channel first (s) | time ratio | peak last (MB) | "
          "peak first (MB) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, (last, first) in cases.items():
        time_last, peak_last = measure(last)
        time_first, peak_first = measure(first)
        print(
            f"| {name} | {time_last:.2f} | {time_first:.2f} | {time_first / time_last:.2f} | "
            f"{peak_last / 1e6:.0f} | {peak_first / 1e6:.0f} |"
        )


if __name__ == "__main__":
    main()

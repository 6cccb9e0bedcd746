"""Time one run of each method of ``speccal demo --quick`` (240 SGD steps and the evaluation).

The demo's help quotes these numbers: ``--quick`` trains 3 seeds of CE and of CE + spectral
(1,440 steps), so it takes about 3 x (CE run + CE + spectral run) plus writing its phantoms
and figures. Run it on an idle machine; it prints seconds per step, not a ratio.

Usage: python benchmarks/bench_demo.py
"""

import tempfile
import time
from pathlib import Path

from speccal.commands import demo
from speccal.experiments import evaluate_run, train_run


def main():
    out = Path(tempfile.mkdtemp())
    steps = demo.QUICK["epochs"] * demo.QUICK["steps_per_epoch"]
    demo.write_phantoms(out / "data", demo.QUICK["n_cases"], demo.PHANTOM_SHAPE)
    for method in ("ce", "cespectral"):
        config = demo.run_config(out, method, 0, demo.QUICK)
        start = time.perf_counter()
        train_run(config, out / method, progress=False)
        trained = time.perf_counter() - start
        start = time.perf_counter()
        evaluate_run(out / method, progress=False)
        evaluated = time.perf_counter() - start
        print(
            f"{method}: train {trained:.1f} s ({trained / steps:.3f} s/step), "
            f"evaluate {evaluated:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()

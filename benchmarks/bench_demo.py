"""Time the runs of ``speccal demo --quick``: one after the other, or two at a time.

The demo's help quotes these numbers. ``--quick`` trains 3 seeds of CE and of CE + spectral at
the size of ``demo.QUICK``. This script trains 2 seeds of each twice: one after the other in
this process (all cores' TensorFlow threads, ``--workers 1``), then side by side in two
processes of a local Dask cluster (``--workers 2``, the default), and prints the ratio. The
whole demo takes about ``3 x`` the side-by-side time plus writing its phantoms, its tables and
its figures. Run it on an idle machine.

Usage: python benchmarks/bench_demo.py
"""

import tempfile
import time
from pathlib import Path

from speccal.commands import demo


def main():
    quick = {**demo.QUICK, "seeds": 2}
    steps = quick["epochs"] * quick["steps_per_epoch"]
    times = {}
    for workers in (1, 2):
        out = Path(tempfile.mkdtemp()) / "demo"
        start = time.perf_counter()
        demo.run_demo(out, quick=True, seeds=2, workers=workers, progress=True, settings=quick)
        times[workers] = time.perf_counter() - start
        print(
            f"--workers {workers}: 4 runs of {steps} steps (CE and CE + spectral, 2 seeds) "
            f"in {times[workers]:.1f} s, {times[workers] / 4:.1f} s per run",
            flush=True,
        )
    print(f"workers 1 / workers 2: {times[1] / times[2]:.2f}")
    print(f"estimated --quick (3 seeds, 6 runs) at --workers 2: {times[2] * 1.5:.0f} s")


if __name__ == "__main__":
    main()

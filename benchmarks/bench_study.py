"""What ``speccal study`` costs on top of its trials, and what two workers gain.

Run: ``python benchmarks/bench_study.py [--seeds 2] [--steps 2]``.

Four tiny trials (CE and CE + spectral, 2 seeds; 16³ patches, a 4-filter 2-level U-Net,
``--steps`` SGD steps; synthetic phantoms of 16x16x12 voxels) are run three ways, each from a
fresh process and a fresh output folder, so every way pays TensorFlow's start-up once:

(a) directly: one process calls :func:`speccal.experiments._study_run.run_trial` for each
    trial in turn (what a study does per trial, without Dask, the report or the figures);
(b) ``speccal study --workers 1``: the same trials as Dask tasks on a one-process
    LocalCluster, plus ``results.csv``, ``report.md`` and the figures.
(c) ``speccal study --workers 2``.

Printed: wall times, the scheduling overhead per trial ``((b) - (a)) / trials`` (goal <= 1 s)
and the ratio (c) / (b) of two workers to one (two cores: ideally 0.5). The machine may be
shared; the three ways run one after the other, so read the ratios with the load in mind.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

STUDY = """\
[data]
dataset = "synthetic"
root = "data"
[train]
epochs = 1
steps_per_epoch = {steps}
patch_size = [16, 16, 16]
batch_size = 2
base_filters = 4
depth = 2
[grid]
seeds = {seeds}
[[methods]]
name = "ce"
loss = "ce"
[[methods]]
name = "spectral"
loss = "cespectral"
params = {{ lam = 1.0, window = 10 }}
[report]
reference = "ce"
"""

DIRECT = """\
import sys, time
from speccal.experiments._study import load_study
from speccal.experiments._study_run import run_trial
study = load_study(sys.argv[1])
for trial in study.trials(sys.argv[2]):
    run_trial(trial.config.to_dict(), sys.argv[2], trial.name)
"""


def timed(command, env):
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="seeds per method (trials: 2x)")
    parser.add_argument("--steps", type=int, default=2, help="SGD steps per trial")
    args = parser.parse_args()
    from speccal.datasets import SyntheticPhantoms

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        SyntheticPhantoms.write(tmp / "data", n_cases=6, shape=(16, 16, 12), seed=0)
        seeds = list(range(args.seeds))
        (tmp / "study.toml").write_text(STUDY.format(steps=args.steps, seeds=seeds))
        n_trials = 2 * len(seeds)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SPECCAL_CACHE": str(tmp / "cache")}
        code = textwrap.dedent(DIRECT)
        direct = timed([sys.executable, "-c", code, str(tmp / "study.toml"), str(tmp / "a")],
                       env)  # fmt: skip
        study = [sys.executable, "-m", "speccal", "study", str(tmp / "study.toml")]
        one = timed([*study, "--out", str(tmp / "b"), "--workers", "1"], env)
        two = timed([*study, "--out", str(tmp / "c"), "--workers", "2"], env)
    print(f"{os.cpu_count()} CPU cores (possibly shared); {n_trials} trials of {args.steps} steps")
    print(f"(a) direct, one process:         {direct:7.1f} s")
    print(f"(b) speccal study --workers 1:   {one:7.1f} s")
    print(f"(c) speccal study --workers 2:   {two:7.1f} s")
    print(f"scheduling overhead per trial ((b) - (a)) / {n_trials}: "
          f"{(one - direct) / n_trials:6.2f} s (goal <= 1 s)")  # fmt: skip
    print(f"two workers vs one (c) / (b): {two / one:5.2f} (ideal on 2 cores: 0.5)")


if __name__ == "__main__":
    main()

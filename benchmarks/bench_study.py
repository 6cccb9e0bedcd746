"""What ``speccal study`` costs on top of its trials, and what two workers gain.

Run: ``python benchmarks/bench_study.py [--seeds 1 2] [--steps 2]``.

Tiny trials (CE and CE + spectral; 16³ patches, a 4-filter 2-level U-Net, ``--steps`` SGD
steps; synthetic phantoms of 16x16x12 voxels) are run three ways, each from a fresh process
and a fresh output folder, so every way pays TensorFlow's start-up:

(a) directly: one process calls :func:`speccal.experiments._study_run.run_trial` for each
    trial in turn (what a study does per trial, without Dask, the report or the figures);
(b) ``speccal study --workers 1``: the same trials as Dask tasks on a one-process
    LocalCluster, plus ``results.csv``, ``report.md`` and the figures;
(c) ``speccal study --workers 2``.

A study pays a fixed cost once (the client's imports, the cluster's start, the worker's
TensorFlow import, the figures) and a cost per trial (dispatch, result, the report rewritten
after each trial). Running ``--seeds`` 1 and 2 (2 and 4 trials) separates them: the scheduling
overhead per trial is the growth of (b) - (a) per added trial (goal <= 1 s), the fixed cost
what remains. Also printed: (c) / (b) at the largest size, two workers against one (ideally 0.5
on two idle cores). The machine may be shared: the ways run one after the other, so read the
numbers with the load in mind.
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


def run_ways(tmp, seeds, steps, env):
    """Wall times of (a), (b) and (c) for ``seeds`` seeds (2 x seeds trials)."""
    folder = tmp / f"seeds{seeds}"
    folder.mkdir()
    study_file = folder / "study.toml"
    study_file.write_text(STUDY.format(steps=steps, seeds=list(range(seeds))))
    (folder / "data").symlink_to(tmp / "data")
    code = textwrap.dedent(DIRECT)
    direct = timed([sys.executable, "-c", code, str(study_file), str(folder / "a")], env)
    study = [sys.executable, "-m", "speccal", "study", str(study_file)]
    one = timed([*study, "--out", str(folder / "b"), "--workers", "1"], env)
    two = timed([*study, "--out", str(folder / "c"), "--workers", "2"], env)
    return direct, one, two


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=[1, 2], help="two sizes (seeds)")
    parser.add_argument("--steps", type=int, default=2, help="SGD steps per trial")
    args = parser.parse_args()
    from speccal.datasets import SyntheticPhantoms

    print(f"{os.cpu_count()} CPU cores (possibly shared); trials of {args.steps} steps")
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        SyntheticPhantoms.write(tmp / "data", n_cases=6, shape=(16, 16, 12), seed=0)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SPECCAL_CACHE": str(tmp / "cache")}
        for seeds in args.seeds:
            times[seeds] = direct, one, two = run_ways(tmp, seeds, args.steps, env)
            print(f"{2 * seeds} trials: (a) direct {direct:7.1f} s   (b) study --workers 1 "
                  f"{one:7.1f} s   (c) study --workers 2 {two:7.1f} s")  # fmt: skip
    small, large = args.seeds
    extra = {n: times[n][1] - times[n][0] for n in args.seeds}
    per_trial = (extra[large] - extra[small]) / (2 * (large - small))
    fixed = extra[small] - per_trial * 2 * small
    print(f"scheduling overhead per trial: {per_trial:6.2f} s (goal <= 1 s); "
          f"fixed cost per study: {fixed:6.1f} s")  # fmt: skip
    print(f"two workers vs one at {2 * large} trials, (c) / (b): "
          f"{times[large][2] / times[large][1]:5.2f} (ideal on 2 idle cores: 0.5)")  # fmt: skip


if __name__ == "__main__":
    main()

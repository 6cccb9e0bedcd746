"""Evaluated run folders faked for tests: metrics.json and per_volume.csv, nothing trained.

Written through speccal.experiments' own writers, so they read back as real runs do.
"""

import numpy as np

from speccal.experiments._run_folder import write_csv, write_json

CASES = ("c1", "c2", "c3", "c4", "c5", "c6")


def fake_run(
    root,
    name,
    method,
    seed,
    values,
    *,
    cases=CASES,
    dataset="synthetic",
    loss_params=None,
    n_classes=4,
):
    """A run folder with metrics.json and per_volume.csv; ``values[metric]`` per case."""
    run = root / name
    run.mkdir()
    rows = [
        {"case_id": case, **{m: float(values[m][i]) for m in values}}
        for i, case in enumerate(cases)
    ]
    write_json(
        run / "metrics.json",
        {
            "method": method,
            "dataset": dataset,
            "loss_params": loss_params or {},
            "seed": seed,
            "n_classes": n_classes,
            "n_volumes": len(rows),
            **{m: float(np.mean(values[m])) for m in values},
            "protocol": "P",
        },
    )
    write_csv(run / "per_volume.csv", {k: [row[k] for row in rows] for k in rows[0]})
    return run


def draw(rng, n=6):
    """Per-case dice, hd95 and ece of ``n`` cases."""
    return {
        "dice": rng.uniform(0.6, 0.9, n),
        "hd95": rng.uniform(1.0, 9.0, n),
        "ece": rng.uniform(0.01, 0.2, n),
    }

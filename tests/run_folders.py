"""Evaluated run folders faked for tests, nothing trained.

``fake_run`` writes metrics.json and per_volume.csv from given values; ``save_fake_run``
writes every file of a run (``save_run``) filled with random values.

Written through speccal.experiments' own writers, so they read back as real runs do.
"""

import numpy as np

from speccal.experiments import save_run
from speccal.experiments._run_folder import write_csv, write_json

CASES = ("c1", "c2", "c3", "c4", "c5", "c6")
METRICS = ("dice", "hd95", "asd", "ece", "sce", "tace")


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


def save_fake_run(
    root,
    rng,
    *,
    method="ce",
    dataset="acdc",
    n_cases=5,
    shape=(12, 10),
    n_classes=2,
    per_volume=None,
    **metrics,
):
    """A complete run folder written by ``save_run``: every file, random values from ``rng``.

    ``metrics`` add to or replace the entries of metrics.json, ``per_volume`` the columns of
    per_volume.csv; the example slices have the 2-D ``shape`` and ``n_classes`` classes.
    """
    values = dict(zip(METRICS, rng.uniform(0.01, 0.9, size=len(METRICS)), strict=True))
    return save_run(
        root,
        metrics={"method": method, "dataset": dataset, "protocol": "pooled", **values, **metrics},
        per_volume={
            "case_id": [f"case_{i:03d}" for i in range(n_cases)],
            "dice": rng.uniform(0.6, 0.95, n_cases),
            "ece": rng.uniform(0.0, 0.1, n_cases),
            **(per_volume or {}),
        },
        reliability={
            "bin_count": rng.integers(0, 50, 15),
            "bin_confidence": np.linspace(0.03, 0.97, 15),
            "bin_accuracy": rng.uniform(size=15),
        },
        spectrum={"frequencies": np.linspace(0, 0.5, 6), "power": rng.uniform(0.1, 2.0, 6)},
        example={
            "image": rng.normal(size=shape),
            "label": rng.integers(0, n_classes, size=shape),
            "confidence": rng.uniform(0.5, 1.0, size=shape),
            "probability": rng.dirichlet(np.ones(n_classes), size=shape),
        },
    )

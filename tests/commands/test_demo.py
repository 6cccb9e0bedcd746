"""``speccal demo`` end to end at a tiny size (the real sizes are measured, not tested)."""

import csv
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from speccal.cli import main  # noqa: E402
from speccal.commands import demo  # noqa: E402

TINY = {
    "n_cases": 6,
    "shape": (24, 24, 16),
    "epochs": 1,
    "steps_per_epoch": 2,
    "seeds": 2,
    "patch_size": (16, 16, 16),
    "train_cases": None,
    "model_params": {"base_filters": 2, "depth": 2},
}


def _error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.slow
def test_quick_demo_trains_both_methods_over_seeds_and_writes_figures(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(demo, "QUICK", TINY)
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0  # 2 workers: a local cluster
    printed = capsys.readouterr().out
    assert printed.startswith(demo.QUICK_REGIME)
    assert "| metric | ce | cespectral |" in printed
    assert "| DSC ↑ |" in printed and "| ECE ↓ |" in printed
    assert "Runs per method: ce 2, cespectral 2." in printed
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["ce_seed0", "ce_seed1", "cespectral_seed0", "cespectral_seed1"]
    config = json.loads((out / "runs" / "cespectral_seed1" / "config.json").read_text())
    assert config["loss_params"]["lam"] == demo.DEMO_LAM
    assert config["seed"] == 1
    for name in ("power_spectra.png", "reliability.png"):
        assert (out / "figures" / name).stat().st_size > 0
    assert (out / "figures" / "seed0" / "fig3_power_spectra_synthetic.png").is_file()
    assert (out / "tables.md").read_text().count("| metric | ce | cespectral |") == 2
    # the paired comparison with CE: Δ ECE is the mean over (case, seed) pairs, recomputed here
    assert "Paired against CE" in printed
    ece = {}
    for run in runs:
        method, seed = run.rsplit("_seed", 1)
        with open(out / "runs" / run / "per_volume.csv") as handle:
            for row in csv.DictReader(handle):
                ece[method, seed, row["case_id"]] = float(row["ece"])
    delta = np.mean(
        [value - ece["ce", seed, case] for (m, seed, case), value in ece.items() if m != "ce"]
    )
    (row,) = [
        line
        for line in printed.splitlines()
        if line.startswith("| ECE") and "| cespectral |" in line
    ]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[5] == f"{delta:.4f}"
    assert 0 <= float(cells[7]) <= 1  # the Holm-adjusted Wilcoxon p-value
    assert cells[11] == "2" and 0.5 <= float(cells[10]) <= 1  # run level: 2 seeds give p >= 1/2
    assert (out / "tables.md").read_text().count("Paired against CE") == 1
    # a run trained in a Dask worker is the run trained here: the seed fixes the initial
    # weights although the worker's own threads draw from Python's random meanwhile
    from speccal.experiments import RunConfig, train_run

    train_run(RunConfig.load(out / "runs" / "ce_seed1"), tmp_path / "again", progress=False)
    history = [
        (tmp_path / "again" if i else out / "runs" / "ce_seed1") / "history.csv" for i in (0, 1)
    ]
    losses = [np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)[:, 1:] for path in history]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)
    # an existing --out is kept unless --overwrite
    err = _error(capsys, ["demo", "--quick", "--out", str(out)])
    assert "already exists and is not empty; pass --overwrite" in err


@pytest.mark.slow
def test_a_failed_run_is_named(tmp_path):
    settings = {**TINY, "train_cases": 50}  # fails in the worker, when the split is known
    failed = "ce_seed0, ce_seed1, cespectral_seed0, cespectral_seed1"
    with pytest.raises(RuntimeError, match=f"demo runs failed: {failed}; the first one's") as info:
        demo.run_demo(tmp_path / "d", seeds=2, progress=False, settings=settings)
    assert "`train_cases` must be at most the 4 training cases of the split; got 50." in str(
        info.value
    )


def test_one_seed_is_refused(capsys, tmp_path):
    err = _error(capsys, ["demo", "--quick", "--seeds", "1", "--out", str(tmp_path / "d")])
    assert "`--seeds` must be an int >= 2 (one seed is noise, not a comparison); got 1." in err


def test_reliability_of_seeds_is_pooled_by_count():
    from types import SimpleNamespace

    from speccal.commands._demo_figures import pooled_reliability

    a = SimpleNamespace(reliability={
        "bin_count": np.array([2, 0, 1]),
        "bin_confidence": np.array([0.1, np.nan, 0.9]),
        "bin_accuracy": np.array([0.0, np.nan, 1.0]),
    })  # fmt: skip
    b = SimpleNamespace(reliability={
        "bin_count": np.array([2, 0, 3]),
        "bin_confidence": np.array([0.2, np.nan, 0.7]),
        "bin_accuracy": np.array([0.5, np.nan, 1.0 / 3]),
    })  # fmt: skip
    pooled = pooled_reliability([a, b])
    np.testing.assert_array_equal(pooled["bin_count"], [4, 0, 4])
    np.testing.assert_allclose(pooled["bin_confidence"][[0, 2]], [0.15, 0.75])
    np.testing.assert_allclose(pooled["bin_accuracy"][[0, 2]], [0.25, 0.5])
    assert np.isnan(pooled["bin_confidence"][1])


def test_figures_of_saved_runs_without_training(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from speccal.commands._demo_figures import write_figures
    from speccal.experiments import save_run

    rng = np.random.default_rng(0)
    for method in ("ce", "cespectral"):
        for seed in range(2):
            ece = float(rng.uniform(0.01, 0.1))
            save_run(
                tmp_path / "runs" / f"{method}_seed{seed}",
                metrics={"method": method, "dataset": "synthetic", "ece": ece, "sce": 0.1,
                         "tace": 0.1, "dice": 0.8, "hd95": float("inf"), "asd": 1.0,
                         "ece_pooled": ece},
                per_volume={"case_id": ["a", "b"], **{
                    k: rng.uniform(0.01, 1, 2) for k in ("ece", "sce", "tace", "dice", "asd")
                }},
                reliability={"bin_count": [3, 0, 5], "bin_confidence": [0.2, np.nan, 0.9],
                             "bin_accuracy": [0.1, np.nan, 0.8]},
                spectrum={"frequencies": [0.0, 0.25, 0.5], "power": rng.uniform(0.1, 1, 3)},
                example={"image": np.ones((6, 6)), "label": np.zeros((6, 6), int),
                         "confidence": np.ones((6, 6)), "probability": np.ones((6, 6, 2)) / 2},
            )  # fmt: skip
    closed = []
    monkeypatch.setattr(plt, "close", closed.append)
    written = write_figures(tmp_path / "runs", tmp_path / "figures", dpi=40)
    assert [p.name for p in written[:2]] == ["power_spectra.png", "reliability.png"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    axes = {ax.get_title(): ax for ax in closed[1].axes}
    assert {"ce (2 seeds)", "cespectral (2 seeds)", "overlay"} <= set(axes)
    overlay = axes["overlay"]
    curves = {label.split(",")[0] for label in overlay.get_legend_handles_labels()[1]}
    assert {"ce", "cespectral"} <= curves  # one curve per method on the overlay
    plt.close("all")


def test_the_full_demo_trains_the_papers_five_baselines():
    assert demo.BASELINES == ("focal", "ls", "mbls", "svls", "crac")


@pytest.mark.slow
def test_full_demo_adds_the_baselines(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "BASELINES", ("focal", "crac"))
    settings = {key: value for key, value in TINY.items() if key != "seeds"}
    results = demo.run_demo(
        tmp_path / "d", quick=False, seeds=2, workers=1, progress=False, settings=settings
    )
    assert [r["method"] for r in results] == ["ce"] * 2 + ["cespectral"] * 2 + ["focal"] * 2 + [
        "crac"
    ] * 2
    assert [r["seed"] for r in results] == [0, 1] * 4

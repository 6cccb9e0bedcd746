import subprocess
import sys

import numpy as np
import pytest

from speccal.cli import main
from speccal.experiments import save_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _fake_run(root, method, dataset, seed, shape=(16, 14)):
    rng = np.random.default_rng(seed)
    names = ("dice", "hd95", "asd", "ece", "sce", "tace")
    metrics = dict(zip(names, rng.uniform(size=6), strict=True))
    return save_run(
        root,
        metrics={"method": method, "dataset": dataset, "protocol": "pooled", **metrics},
        per_volume={
            "case_id": ["c0", "c1", "c2", "c3"],
            "dice": rng.uniform(0.5, 1.0, 4),
            "ece": rng.uniform(0.0, 0.1, 4),
            "hd95": [1.0, 2.0, np.inf, 3.0],
        },
        reliability={
            "bin_count": rng.integers(1, 9, 15),
            "bin_confidence": np.linspace(0.03, 0.97, 15),
            "bin_accuracy": rng.uniform(size=15),
        },
        spectrum={"frequencies": np.linspace(0, 0.5, 8), "power": rng.uniform(0.1, 1.0, 8)},
        example={
            "image": rng.normal(size=shape),
            "label": rng.integers(0, 3, size=shape),
            "confidence": rng.uniform(0.4, 1.0, size=shape),
            "probability": rng.dirichlet(np.ones(3), size=shape),
        },
    )


def _names(out):
    return sorted(p.name for p in out.iterdir())


def test_figures_renders_every_figure(tmp_path, capsys):
    runs = [
        _fake_run(tmp_path / f"{m}_{d}", m, d, seed)
        for seed, (m, d) in enumerate(
            [
                ("ce", "acdc"),
                ("cespectral", "acdc"),
                ("ce", "flare2021"),
                ("cespectral", "flare2021"),
            ]
        )
    ]
    out = tmp_path / "figs"
    assert main(["figures", *map(str, runs), "--out", str(out), "--dpi", "40"]) == 0
    expected = ["fig1_boundary_experiment.png", "fig7_ranks.png"] + [
        f"{fig}_{d}.png"
        for d in ("acdc", "flare2021")
        for fig in (
            "fig2a_confidence_maps",
            "fig2b_reliability",
            "fig2c_segmentations",
            "fig3_power_spectra",
            "fig5_radar",
            "fig6_distributions",
            "fig8_hotspots",
        )
    ]
    assert _names(out) == sorted(expected)
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(str(out / name) for name in expected)
    for name in expected:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC


def test_figures_reports_a_missing_file(tmp_path, capsys):
    run = _fake_run(tmp_path / "ce", "ce", "acdc", 0)
    (run / "spectrum.npz").unlink()
    with pytest.raises(SystemExit) as exit_info:
        main(["figures", str(run), "--out", str(tmp_path / "figs")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"speccal figures: error: {run / 'spectrum.npz'} is missing" in err
    assert not (tmp_path / "figs").exists()


def test_figures_skips_ranks_on_an_incomplete_grid(tmp_path, capsys):
    runs = [
        _fake_run(tmp_path / "a", "ce", "acdc", 0),
        _fake_run(tmp_path / "b", "cespectral", "acdc", 1),
        _fake_run(tmp_path / "c", "ce", "promise12", 2),
    ]
    out = tmp_path / "figs"
    assert main(["figures", *map(str, runs), "--out", str(out), "--dpi", "40"]) == 0
    err = capsys.readouterr().err
    assert "skipped fig7_ranks.png: `results` must cover every method on every dataset" in err
    assert "fig7_ranks.png" not in _names(out)
    assert "fig8_hotspots_promise12.png" in _names(out)


def test_figures_rejects_duplicate_runs(tmp_path, capsys):
    run = _fake_run(tmp_path / "a", "ce", "acdc", 0)
    with pytest.raises(SystemExit) as exit_info:
        main(["figures", str(run), str(run), "--out", str(tmp_path / "figs")])
    assert exit_info.value.code == 2
    assert "must hold one run per method and seed; got 'ce' seed None twice" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "figs").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--dpi", "0"], "`dpi` must be a positive number; got 0"),
        (["--bands", "0"], "`bands` must be an int >= 1; got 0"),
    ],
)
def test_figures_rejects_bad_options_before_drawing(tmp_path, capsys, option, message):
    run = _fake_run(tmp_path / "a", "ce", "acdc", 0)
    with pytest.raises(SystemExit) as exit_info:
        main(["figures", str(run), "--out", str(tmp_path / "figs"), *option])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "figs").exists()


def test_figures_command_line_help():
    out = subprocess.run(
        [sys.executable, "-m", "speccal.cli", "figures", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "RUN_DIR" in out and "--out DIR" in out

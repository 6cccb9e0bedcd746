import subprocess
import sys

import numpy as np
import pytest
from run_folders import save_fake_run

from speccal.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _fake_run(root, method, dataset, seed):
    """A run with three classes and an infinite HD95 among its volumes."""
    return save_fake_run(
        root,
        np.random.default_rng(seed),
        method=method,
        dataset=dataset,
        n_cases=4,
        shape=(16, 14),
        n_classes=3,
        per_volume={"hd95": [1.0, 2.0, np.inf, 3.0]},
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

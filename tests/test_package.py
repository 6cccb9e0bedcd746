import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fresh_python import modules_loaded_by

import speccal
from speccal._bands import band_index, rfft_weights


def test_version_and_lazy_import():
    code = "import sys, speccal; print('tensorflow' in sys.modules, speccal.__version__)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", speccal.__version__]


#: Modules that import TensorFlow: everything else is the numpy side.
TENSORFLOW_MODULES = (
    "speccal.spectral",
    "speccal.losses",
    "speccal.models",
    "speccal.inference",
    "speccal.metrics.keras",
    "speccal.posthoc.keras",
    "speccal.datasets.tfdata",
)


def _numpy_side_modules():
    """Every module of the package that is not on the TensorFlow side, from the file tree
    (``pkgutil.walk_packages`` would import the TensorFlow packages to list them)."""
    root = Path(speccal.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(TENSORFLOW_MODULES) and name != "speccal.__main__":
            names.append(name)
    return names


def test_every_numpy_side_module_imports_under_python_OO():
    """``python -OO`` strips docstrings; the docstring helpers must cope (they once failed)."""
    names = _numpy_side_modules()
    assert {"speccal.metrics._calibration", "speccal.datasets._releases"} <= set(names)
    code = (
        "import importlib, speccal\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "assert speccal.metrics.expected_calibration_error.__doc__ is None\n"
    )
    assert modules_loaded_by(code, options=("-OO",)) == []


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        speccal.nope  # noqa: B018


def test_cli_version():
    out = subprocess.run(
        [sys.executable, "-m", "speccal.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"speccal {speccal.__version__}"


@pytest.mark.parametrize("shape", [(7, 8, 9), (16, 16), (5, 12, 6), (96, 96, 96)])
@pytest.mark.parametrize("bands", [1, 3, 5, 7])
def test_band_index_matches_float_definition(shape, bands):
    idx = band_index(shape, bands)
    u = np.meshgrid(*[np.arange(n) - n // 2 for n in shape], indexing="ij")
    r = np.sqrt(sum(g.astype(float) ** 2 for g in u))
    R = min(shape) / 2
    expected = np.full(shape, -1)
    for k in range(1, bands + 1):
        lo, hi = (k - 1) * R / bands, k * R / bands
        expected[(r > lo + 1e-9) & (r <= hi + 1e-9)] = k - 1
    expected[r == 0] = -1
    np.testing.assert_array_equal(idx, expected)


@pytest.mark.parametrize("shape", [(7, 8, 9), (6, 10), (4, 5, 6)])
def test_band_layouts_give_equal_band_sums(shape, rng):
    x = rng.normal(size=shape)
    full = np.abs(np.fft.fftshift(np.fft.fftn(x))) ** 2
    half = np.abs(np.fft.rfftn(x)) ** 2 * rfft_weights(shape)
    unshifted = np.abs(np.fft.fftn(x)) ** 2
    b_s = band_index(shape, 4, include_dc=True, include_corners=True)
    b_r = band_index(shape, 4, include_dc=True, include_corners=True, layout="rfft")
    b_f = band_index(shape, 4, include_dc=True, include_corners=True, layout="fft")
    assert (b_s >= 0).all()
    for k in range(4):
        np.testing.assert_allclose(half[b_r == k].sum(), full[b_s == k].sum(), rtol=1e-10)
        np.testing.assert_allclose(unshifted[b_f == k].sum(), full[b_s == k].sum(), rtol=1e-10)
    np.testing.assert_allclose(full.sum(), half.sum(), rtol=1e-10)


def test_band_index_errors():
    with pytest.raises(ValueError, match=r"`bands` must be an int >= 1; got 0"):
        band_index((8, 8), 0)
    with pytest.raises(ValueError, match=r"`layout` must be one of"):
        band_index((8, 8), 2, layout="polar")
    with pytest.raises(ValueError, match=r"`spatial_shape` must be 2 or 3 positive sizes"):
        band_index((8,), 2)


def test_ci_selects_the_derandomised_hypothesis_profile():
    conftest = Path(__file__).with_name("conftest.py")
    code = (
        "import runpy, hypothesis\n"
        f"runpy.run_path({str(conftest)!r})\n"
        "print(hypothesis.settings.default.derandomize, hypothesis.settings.default.database)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    local = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    ci = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "CI": "true"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert ci.stdout.split() == ["True", "None"]
    assert local.stdout.split()[0] == "False"

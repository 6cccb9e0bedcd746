"""The study report's statistics: case-level and run-level (a seed as the unit)."""

import itertools

import numpy as np
import pytest

from speccal.experiments._study_report import COMPARED, _run_level_table, paired_difference


def _clustered():
    """3 seeds x 6 cases; within a seed every case moved by the same amount."""
    seeds = np.repeat([0, 1, 2], 6)
    reference = np.random.default_rng(0).integers(0, 8, 18) / 8  # exact binary fractions
    shift = np.array([-1.0, 1.0, 2.0])[seeds]
    return reference + shift, reference, seeds


def test_the_two_stage_interval_spans_the_seeds_where_the_case_interval_does_not():
    result = paired_difference(*_clustered(), np.random.default_rng(0))
    # a two-stage resample is the mean of 3 drawn seeds; all three are the same seed with
    # probability 1/27 > 2.5 %, so the interval's ends are the lowest and highest seed
    assert result["seed_low"] == -1.0 and result["seed_high"] == 2.0
    assert result["low"] > -0.2 and result["high"] < 1.6  # pairs resampled as independent
    assert result["mean"] == pytest.approx(2 / 3)
    assert result["seeds_down"] == 1 and result["seeds_up"] == 2 and result["n_seeds"] == 3


def test_the_run_level_p_value_is_the_exact_sign_flip_test_of_the_seed_means():
    result = paired_difference(*_clustered(), np.random.default_rng(0))
    per_seed = np.array([-1.0, 1.0, 2.0])
    flipped = [
        abs(np.mean(np.array(signs) * per_seed))
        for signs in itertools.product((-1, 1), repeat=per_seed.size)
    ]
    assert result["seed_p"] == np.mean(np.array(flipped) >= abs(per_seed.mean()))  # 6 / 8
    assert result["p"] < 0.05  # the case-level Wilcoxon counts 18 pairs as independent


@pytest.mark.parametrize("n_seeds", [3, 6])
def test_the_smallest_run_level_p_value_is_two_over_two_to_the_seeds(n_seeds):
    seeds = np.repeat(np.arange(n_seeds), 4)
    reference = np.zeros(seeds.size)
    result = paired_difference(reference + 0.5, reference, seeds, np.random.default_rng(1))
    assert result["seed_p"] == pytest.approx(2 / 2**n_seeds)


def test_one_seed_has_no_run_level_test():
    seeds = np.zeros(5, dtype=int)
    result = paired_difference(np.arange(5.0) + 1, np.zeros(5), seeds, np.random.default_rng(0))
    assert np.isnan([result["seed_p"], result["seed_low"], result["seed_high"]]).all()
    row = {"method": "sp", "setting": {}, "n_seeds": 1, "metrics": dict.fromkeys(COMPARED)}
    row["metrics"]["ece"] = result
    assert "| +3.0000 (1 seed: no run-level test) |" in "\n".join(_run_level_table([row], {}))

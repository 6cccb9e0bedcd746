"""SegmentationEvaluator: per-volume tables, means, deviations, CSV, joblib and streaming."""

import csv
import doctest
import warnings

import numpy as np
import pytest
from scipy import ndimage
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from speccal.evaluation import SegmentationEvaluator
from speccal.metrics import segmentation_scores

METRICS = ("dice", "hd95", "asd")


def make_volumes(rng, n_volumes=4, n_classes=3):
    """Label maps of varying, odd shapes; predictions are perturbed copies."""
    preds, trues = [], []
    for v in range(n_volumes):
        shape = (9 + v, 10, 11 + 2 * v)
        fields = [
            ndimage.gaussian_filter(rng.standard_normal(shape), 1.5) for _ in range(n_classes)
        ]
        true = np.argmax(fields, axis=0)
        pred = true.copy()
        flip = rng.random(shape) < 0.05
        pred[flip] = rng.integers(0, n_classes, flip.sum())
        preds.append(pred)
        trues.append(true)
    return preds, trues


SPACINGS = [(1.0, 1.0, 1.0), (0.7, 0.7, 2.5), (1.2, 0.9, 3.0), (0.5, 0.5, 0.5)]


def test_fit_table_equals_segmentation_scores_per_volume(rng):
    preds, trues = make_volumes(rng)
    evaluator = SegmentationEvaluator(n_classes=3).fit(
        y_true=trues, y_pred=preds, spacing=SPACINGS, case_id=["a", "b", "c", "d"]
    )
    assert evaluator.n_volumes_ == 4
    assert evaluator.case_ids_ == ["a", "b", "c", "d"]
    assert evaluator.spacings_ == SPACINGS
    assert evaluator.classes_.tolist() == [1, 2]
    assert evaluator.class_names_ == ["1", "2"]
    for i, (pred, true) in enumerate(zip(preds, trues, strict=True)):
        expected = segmentation_scores(y_true=true, y_pred=pred, n_classes=3, spacing=SPACINGS[i])
        for metric in METRICS:
            np.testing.assert_array_equal(evaluator.scores_[metric][i], expected[metric])
            assert evaluator.records_[i][f"{metric}_2"] == expected[metric][1]
        assert evaluator.records_[i]["case_id"] == "abcd"[i]
    for metric in METRICS:
        values = evaluator.scores_[metric]
        assert values.shape == (4, 2)
        np.testing.assert_allclose(evaluator.mean_[metric], values.mean(axis=0))
        np.testing.assert_allclose(evaluator.std_[metric], values.std(axis=0))


def test_one_shared_spacing_and_default_case_ids(rng):
    preds, trues = make_volumes(rng, n_volumes=2)
    shared = SegmentationEvaluator().fit(y_true=trues, y_pred=preds, spacing=(0.7, 0.7, 2.5))
    each = SegmentationEvaluator().fit(y_true=trues, y_pred=preds, spacing=[(0.7, 0.7, 2.5)] * 2)
    assert shared.case_ids_ == ["0", "1"]
    assert shared.n_classes_ == 3
    for metric in METRICS:
        np.testing.assert_array_equal(shared.scores_[metric], each.scores_[metric])


def test_single_array_is_one_volume(rng):
    preds, trues = make_volumes(rng, n_volumes=1)
    evaluator = SegmentationEvaluator(n_classes=3).fit(
        y_true=trues[0], y_pred=preds[0], spacing=(0.7, 0.7, 2.5), case_id="only"
    )
    assert evaluator.case_ids_ == ["only"]
    expected = segmentation_scores(
        y_true=trues[0], y_pred=preds[0], n_classes=3, spacing=(0.7, 0.7, 2.5)
    )
    np.testing.assert_array_equal(evaluator.scores_["hd95"], [expected["hd95"]])


def test_n_jobs_two_equals_n_jobs_one(rng):
    preds, trues = make_volumes(rng)
    serial = SegmentationEvaluator(n_jobs=1).fit(y_true=trues, y_pred=preds, spacing=SPACINGS)
    parallel = SegmentationEvaluator(n_jobs=2).fit(y_true=trues, y_pred=preds, spacing=SPACINGS)
    assert parallel.records_ == serial.records_
    for metric in METRICS:
        np.testing.assert_array_equal(parallel.scores_[metric], serial.scores_[metric])


def test_partial_fit_in_chunks_equals_fit(rng):
    preds, trues = make_volumes(rng)
    whole = SegmentationEvaluator(include_background=True).fit(
        y_true=trues, y_pred=preds, spacing=SPACINGS
    )
    chunked = SegmentationEvaluator(include_background=True)
    chunked.partial_fit(y_true=trues[:1], y_pred=preds[:1], spacing=SPACINGS[:1])
    chunked.partial_fit(y_true=trues[1], y_pred=preds[1], spacing=SPACINGS[1])
    chunked.partial_fit(y_true=trues[2:], y_pred=preds[2:], spacing=SPACINGS[2:])
    assert chunked.case_ids_ == ["0", "1", "2", "3"]
    assert chunked.records_ == whole.records_
    assert chunked.class_names_ == ["0", "1", "2"]
    for metric in METRICS:
        np.testing.assert_array_equal(chunked.mean_[metric], whole.mean_[metric])
    refit = chunked.fit(y_true=trues[:2], y_pred=preds[:2], spacing=SPACINGS[:2])
    assert refit is chunked
    assert refit.n_volumes_ == 2


def test_to_csv_round_trip(rng, tmp_path):
    preds, trues = make_volumes(rng, n_volumes=2)
    evaluator = SegmentationEvaluator(class_names=["bg", "liver", "tumour"]).fit(
        y_true=trues, y_pred=preds, spacing=SPACINGS[:2], case_id=["p1", "p2"]
    )
    path = evaluator.to_csv(tmp_path / "per_volume.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "case_id",
        "dice_liver",
        "dice_tumour",
        "hd95_liver",
        "hd95_tumour",
        "asd_liver",
        "asd_tumour",
    ]
    assert [row["case_id"] for row in rows] == ["p1", "p2"]
    for row, record in zip(rows, evaluator.records_, strict=True):
        assert {k: float(v) for k, v in row.items() if k != "case_id"} == {
            k: v for k, v in record.items() if k != "case_id"
        }


def test_missed_class_gives_inf_mean_and_std_and_warns_with_case(rng):
    true = np.zeros((6, 7, 8), dtype=int)
    true[1:3, 1:4, 2:5] = 1
    true[4:, 4:, 4:] = 2
    missed = true.copy()
    missed[missed == 2] = 0
    for n_jobs in (1, 2):
        evaluator = SegmentationEvaluator(n_classes=3, n_jobs=n_jobs)
        with pytest.warns(UserWarning, match=r"case 'bad': class 2: `y_pred` is empty"):
            evaluator.fit(y_true=[true, true], y_pred=[true, missed], case_id=["good", "bad"])
        np.testing.assert_array_equal(evaluator.scores_["hd95"], [[0.0, 0.0], [0.0, np.inf]])
        np.testing.assert_array_equal(evaluator.mean_["hd95"], [0.0, np.inf])
        np.testing.assert_array_equal(evaluator.std_["hd95"], [0.0, np.inf])
        np.testing.assert_array_equal(evaluator.mean_["dice"], [1.0, 0.5])
        np.testing.assert_array_equal(evaluator.std_["dice"], [0.0, 0.5])


def test_no_warning_when_every_class_is_found(rng):
    preds, trues = make_volumes(rng, n_volumes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SegmentationEvaluator().fit(y_true=trues, y_pred=trues)


def test_get_params_and_clone():
    evaluator = SegmentationEvaluator(n_classes=4, class_names=list("abcd"), hd95_method="monai")
    params = clone(evaluator).get_params()
    assert params == {
        "n_classes": 4,
        "include_background": False,
        "class_names": ["a", "b", "c", "d"],
        "n_jobs": None,
        "hd95_method": "monai",
        "spatial_dims": None,
    }


def test_not_fitted(tmp_path):
    with pytest.raises(NotFittedError, match="SegmentationEvaluator instance is not fitted"):
        SegmentationEvaluator().to_csv(tmp_path / "x.csv")


def test_hd95_method_is_passed_on(rng):
    preds, trues = make_volumes(rng, n_volumes=2)
    evaluator = SegmentationEvaluator(hd95_method="monai").fit(
        y_true=trues, y_pred=preds, spacing=SPACINGS[1]
    )
    for i in range(2):
        expected = segmentation_scores(
            y_true=trues[i], y_pred=preds[i], spacing=SPACINGS[1], hd95_method="monai"
        )
        np.testing.assert_array_equal(evaluator.scores_["hd95"][i], expected["hd95"])


def test_fit_and_partial_fit_read_reference_first_positionally_and_by_keyword():
    true = np.zeros((6, 7, 8), dtype=int)
    true[1:3, 1:4, 2:5] = 1
    true[4:, 4:, 4:] = 2
    missed = true.copy()
    missed[missed == 2] = 0
    fitted = []
    for call in (
        lambda e: e.fit(true, missed, case_id="a"),
        lambda e: e.fit(y_pred=missed, y_true=true, case_id="a"),
        lambda e: e.partial_fit(true, missed, case_id="a"),
        lambda e: e.partial_fit(y_pred=missed, y_true=true, case_id="a"),
    ):
        with pytest.warns(UserWarning, match=r"case 'a': class 2: `y_pred` is empty"):
            fitted.append(call(SegmentationEvaluator(n_classes=3)))
    for evaluator in fitted:
        assert evaluator.records_ == fitted[0].records_
    with pytest.raises(ValueError, match=r"case '0': `y_pred` must hold labels in"):
        SegmentationEvaluator(n_classes=3).fit(true, 3 * missed)


def test_plus_merges_tables_like_one_fit(rng):
    preds, trues = make_volumes(rng)
    ids = ["a", "b", "c", "d"]
    whole = SegmentationEvaluator(n_classes=3).fit(
        y_true=trues, y_pred=preds, spacing=SPACINGS, case_id=ids
    )
    first = SegmentationEvaluator(n_classes=3).fit(
        y_true=trues[:1], y_pred=preds[:1], spacing=SPACINGS[:1], case_id=ids[:1]
    )
    rest = SegmentationEvaluator(n_classes=3).fit(
        y_true=trues[1:], y_pred=preds[1:], spacing=SPACINGS[1:], case_id=ids[1:]
    )
    merged = first + rest
    assert merged.records_ == whole.records_
    assert merged.spacings_ == whole.spacings_ and merged.n_volumes_ == 4
    for metric in METRICS:
        np.testing.assert_array_equal(merged.mean_[metric], whole.mean_[metric])
        np.testing.assert_array_equal(merged.std_[metric], whole.std_[metric])
    assert first.n_volumes_ == 1 and first.case_ids_ == ["a"]  # the operands are unchanged


def test_plus_refuses_other_parameters_and_unfitted_evaluators(rng):
    preds, trues = make_volumes(rng, n_volumes=1)
    fitted = SegmentationEvaluator(n_classes=3).fit(y_true=trues, y_pred=preds)
    other = SegmentationEvaluator(n_classes=3, hd95_method="monai").fit(y_true=trues, y_pred=preds)
    with pytest.raises(ValueError, match="`other` must be a fitted SegmentationEvaluator with"):
        fitted + other
    with pytest.raises(NotFittedError):
        fitted + SegmentationEvaluator(n_classes=3)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"n_classes": 1}, ValueError, r"`n_classes` must be an int >= 2 or None; got 1"),
        ({"n_classes": "3"}, TypeError, r"`n_classes` must be an int >= 2 or None; got '3'"),
        ({"class_names": "ab"}, ValueError, r"`class_names` must be a sequence of str"),
        (
            {"class_names": ["a", "b"], "n_classes": 3},
            ValueError,
            r"`class_names` must hold one name per class \(3, background included\); got 2",
        ),
        (
            {"hd95_method": "max"},
            ValueError,
            r"`hd95_method` must be one of \('medpy', 'monai'\); got 'max'",
        ),
        ({"include_background": 1}, TypeError, r"`include_background` must be a bool; got 1"),
        ({"n_jobs": 1.5}, TypeError, r"`n_jobs` must be an int or None; got 1.5"),
    ],
)
def test_bad_parameters(params, error, message):
    volume = np.eye(4, dtype=int)
    with pytest.raises(error, match=message):
        SegmentationEvaluator(**params).fit(y_true=volume, y_pred=volume)


def test_bad_volumes_name_the_argument_and_case():
    volume = np.eye(4, dtype=int)
    with pytest.raises(
        ValueError, match=r"`y_pred` must hold as many volumes as `y_true` \(2\); got 1"
    ):
        SegmentationEvaluator().fit(y_true=[volume, volume], y_pred=[volume])
    with pytest.raises(ValueError, match=r"`y_true` must hold at least one volume"):
        SegmentationEvaluator().fit(y_true=[], y_pred=[])
    with pytest.raises(
        ValueError,
        match=r"`spacing` must be one spacing for all volumes or one "
        r"per volume \(2\); got 3 spacings",
    ):
        SegmentationEvaluator().fit(
            y_true=[volume, volume], y_pred=[volume, volume], spacing=[(1, 1)] * 3
        )
    with pytest.raises(
        ValueError,
        match=r"`case_id` must hold one identifier per volume "
        r"\(2\); got \['x'\]",
    ):
        SegmentationEvaluator().fit(
            y_true=[volume, volume], y_pred=[volume, volume], case_id=["x"]
        )
    with pytest.raises(ValueError, match=r"`case_id` must hold .* \(2\); got 'xy'"):
        SegmentationEvaluator().fit(y_true=[volume, volume], y_pred=[volume, volume], case_id="xy")
    with pytest.raises(
        ValueError, match=r"case 'x2': `y_pred` must have the same shape as `y_true` \(3, 4\)"
    ):
        SegmentationEvaluator().fit(
            y_true=[volume, volume[:3]], y_pred=[volume, volume], case_id=["x1", "x2"]
        )
    with pytest.raises(ValueError, match=r"case '1': `spacing` must be a positive finite"):
        SegmentationEvaluator().fit(
            y_true=[volume, volume], y_pred=[volume, volume], spacing=[(1, 1), (0, 1)]
        )


def test_label_beyond_n_classes_in_later_call():
    evaluator = SegmentationEvaluator().fit(
        y_true=np.eye(4, dtype=int), y_pred=np.eye(4, dtype=int)
    )
    assert evaluator.n_classes_ == 2
    with pytest.raises(
        ValueError,
        match=r"case '1': `y_pred` must hold labels in "
        r"\[0, n_classes=2\); got label 2",
    ):
        evaluator.partial_fit(y_true=np.eye(4, dtype=int), y_pred=2 * np.eye(4, dtype=int))


# -- housekeeping ---------------------------------------------------------------------------


def test_docstring_examples_run():
    import speccal.evaluation._segmentation as module

    result = doctest.testmod(module)
    assert result.attempted > 5
    assert result.failed == 0


# -- issue 14: no silent or cryptic answers --
def test_a_batch_array_is_refused_not_scored_as_one_volume(rng):
    batch = rng.integers(0, 2, size=(2, 16, 16, 12))
    with pytest.raises(
        ValueError,
        match=r"`y_true` must hold volumes of 2 or 3 axes; pass a batch as a list of volumes, "
        r"list\(batch\); got an array of shape \(2, 16, 16, 12\)",
    ):
        SegmentationEvaluator().fit(y_true=batch, y_pred=batch)
    evaluator = SegmentationEvaluator().fit(y_true=list(batch), y_pred=list(batch))
    assert evaluator.n_volumes_ == 2


def test_spatial_dims_fixes_the_rank(rng):
    volume = rng.integers(0, 2, size=(6, 7))
    with pytest.raises(
        ValueError, match=r"`y_pred` must hold volumes of 3 axes \(`spatial_dims`\); got .*\(6, 7"
    ):
        SegmentationEvaluator(spatial_dims=3).fit(y_true=[volume[None]], y_pred=[volume])
    with pytest.raises(ValueError, match=r"`spatial_dims` must be None, 1, 2 or 3; got 4"):
        SegmentationEvaluator(spatial_dims=4).fit(y_true=volume, y_pred=volume)
    scores = SegmentationEvaluator(spatial_dims=2).fit(y_true=volume, y_pred=volume).scores_
    assert scores["dice"].tolist() == [[1.0]]


def test_fitted_attributes_before_fit_raise_not_fitted():
    for attribute in ("scores_", "mean_", "records_", "n_volumes_"):
        with pytest.raises(NotFittedError, match=rf"not fitted yet.*reading `{attribute}`"):
            getattr(SegmentationEvaluator(), attribute)


def test_partial_fit_with_a_bad_volume_adds_nothing(rng):
    preds, trues = make_volumes(rng, n_volumes=3)
    evaluator = SegmentationEvaluator(n_classes=3).fit(y_true=trues[:1], y_pred=preds[:1])
    with pytest.raises(ValueError, match=r"case '2': `spacing` must be a positive finite"):
        evaluator.partial_fit(y_true=trues[1:], y_pred=preds[1:], spacing=[(1, 1, 1), (0, 1, 1)])
    assert evaluator.n_volumes_ == 1
    evaluator.partial_fit(y_true=trues[1:], y_pred=preds[1:])
    assert evaluator.case_ids_ == ["0", "1", "2"]

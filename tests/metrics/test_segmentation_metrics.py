"""Dice, HD95 and ASD: equality with medpy 0.5 and with a brute-force reference."""

import doctest
import warnings

import numpy as np
import pytest
from fresh_python import modules_loaded_by
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage
from scipy.spatial.distance import cdist

from speccal.metrics import (
    average_surface_distance,
    dice_score,
    hausdorff_distance_95,
    segmentation_scores,
)

medpy_binary = pytest.importorskip("medpy.metric.binary")

SPACINGS = {
    2: [None, (0.8, 0.8), (0.7, 2.5)],
    3: [None, (1.5, 1.5, 1.5), (0.7, 0.7, 2.5)],
}
SHAPES = [(23, 31), (17, 20, 23)]


# -- an independent reference: surfaces by neighbour tests, distances by brute force ------


def reference_surface(mask):
    """Foreground voxels with a 6-neighbour (or the outside of the volume) in background."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    all_neighbours_in = np.ones_like(mask)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            all_neighbours_in &= np.roll(padded, step, axis=axis)[inner]
    return mask & ~all_neighbours_in


def reference_distances(pred, true, spacing):
    spacing = np.ones(pred.ndim) if spacing is None else np.asarray(spacing, float)
    points_pred = np.argwhere(reference_surface(pred)) * spacing
    points_true = np.argwhere(reference_surface(true)) * spacing
    pairwise = cdist(points_pred, points_true)
    return pairwise.min(axis=1), pairwise.min(axis=0)


def reference_scores(pred, true, spacing):
    to_true, to_pred = reference_distances(pred, true, spacing)
    union = np.concatenate([to_true, to_pred])
    return {
        "dice": 2 * np.sum(pred & true) / (pred.sum() + true.sum()),
        "hd95": np.percentile(union, 95),
        "hd95_monai": max(np.percentile(to_true, 95), np.percentile(to_pred, 95)),
        "asd": union.mean(),
        "asd_directed": to_true.mean(),
    }


def blob(rng, shape, fraction=0.2, sigma=2.0):
    """A smooth random blob covering about ``fraction`` of the volume."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return field > np.quantile(field, 1 - fraction)


def all_scores(pred, true, spacing):
    return {
        "dice": dice_score(y_true=true, y_pred=pred),
        "hd95": hausdorff_distance_95(y_true=true, y_pred=pred, spacing=spacing),
        "hd95_monai": hausdorff_distance_95(
            y_true=true, y_pred=pred, spacing=spacing, method="monai"
        ),
        "asd": average_surface_distance(y_true=true, y_pred=pred, spacing=spacing),
        "asd_directed": average_surface_distance(
            y_true=true, y_pred=pred, spacing=spacing, symmetric=False
        ),
    }


def medpy_scores(pred, true, spacing):
    return {
        "dice": medpy_binary.dc(pred, true),
        "hd95": medpy_binary.hd95(pred, true, voxelspacing=spacing),
        "asd": medpy_binary.assd(pred, true, voxelspacing=spacing),
        "asd_directed": medpy_binary.asd(pred, true, voxelspacing=spacing),
    }


def assert_matches(scores, expected, atol=1e-6):
    for name, value in expected.items():
        assert scores[name] == pytest.approx(value, abs=atol, rel=0), name


# -- equality with medpy and with the reference --------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
@pytest.mark.parametrize("spacing_index", [0, 1, 2], ids=["none", "isotropic", "anisotropic"])
def test_random_blobs_match_medpy_and_reference(rng, shape, spacing_index):
    spacing = SPACINGS[len(shape)][spacing_index]
    for _ in range(3):
        pred, true = blob(rng, shape), blob(rng, shape, fraction=0.3)
        scores = all_scores(pred, true, spacing)
        assert_matches(scores, medpy_scores(pred, true, spacing))
        assert_matches(scores, reference_scores(pred, true, spacing))


@pytest.mark.parametrize("shape", SHAPES, ids=["2d", "3d"])
def test_perturbed_copy_matches_medpy(rng, shape):
    true = blob(rng, shape, fraction=0.25)
    pred = ndimage.binary_dilation(np.roll(true, 2, axis=0)) ^ (rng.random(shape) < 0.02)
    spacing = SPACINGS[len(shape)][2]
    assert_matches(all_scores(pred, true, spacing), medpy_scores(pred, true, spacing))


def test_masks_touching_every_border_match_medpy(rng):
    true = np.ones((9, 10, 11), dtype=bool)
    true[3:6, 4:7, 4:8] = False
    pred = true.copy()
    pred[0, :, :] = False
    pred[:, -2:, 5] = False
    spacing = (0.7, 1.1, 2.5)
    scores = all_scores(pred, true, spacing)
    assert_matches(scores, medpy_scores(pred, true, spacing))
    assert_matches(scores, reference_scores(pred, true, spacing))


def test_far_apart_masks_at_opposite_corners_match_medpy():
    """The crop holds both boxes; the distances span the whole volume."""
    pred = np.zeros((30, 25, 20), dtype=bool)
    true = np.zeros_like(pred)
    pred[:3, :2, :4] = True
    true[-4:, -3:, -2:] = True
    spacing = (0.9, 1.3, 2.0)
    scores = all_scores(pred, true, spacing)
    assert_matches(scores, medpy_scores(pred, true, spacing))
    assert_matches(scores, reference_scores(pred, true, spacing))


@pytest.mark.parametrize("spacing", [None, (0.5, 2.0, 3.0)])
def test_single_voxel_masks(spacing):
    pred = np.zeros((7, 8, 9), dtype=bool)
    true = np.zeros_like(pred)
    pred[0, 0, 0] = True
    true[3, 4, 8] = True
    step = np.ones(3) if spacing is None else np.asarray(spacing)
    distance = float(np.linalg.norm(np.array([3, 4, 8]) * step))
    scores = all_scores(pred, true, spacing)
    assert_matches(scores, medpy_scores(pred, true, spacing))
    assert scores["hd95"] == pytest.approx(distance)
    assert scores["asd"] == pytest.approx(distance)
    assert scores["dice"] == 0.0


def test_identical_masks_score_perfectly(rng):
    true = blob(rng, (12, 13, 14))
    scores = all_scores(true, true.astype(np.float32), (1.0, 2.0, 3.0))
    assert scores == {"dice": 1.0, "hd95": 0.0, "hd95_monai": 0.0, "asd": 0.0, "asd_directed": 0}


def test_monai_hd95_differs_from_medpy_and_matches_reference():
    """A far false-positive island with few surface voxels: the definitions disagree."""
    true = np.zeros((40, 12, 12), dtype=bool)
    true[2:20, 3:9, 3:9] = True
    pred = true.copy()
    pred[34:37, 4:7, 4:7] = True
    spacing = (2.0, 0.7, 0.7)
    expected = reference_scores(pred, true, spacing)
    monai = hausdorff_distance_95(y_true=true, y_pred=pred, spacing=spacing, method="monai")
    medpy = hausdorff_distance_95(y_true=true, y_pred=pred, spacing=spacing)
    assert monai == pytest.approx(expected["hd95_monai"], abs=1e-9)
    assert medpy == pytest.approx(medpy_binary.hd95(pred, true, voxelspacing=spacing), abs=1e-9)
    assert (medpy, monai) == (0.0, 30.0)  # island 14 voxels (2 mm) below the object


def test_scalar_spacing_equals_per_axis_spacing(rng):
    pred, true = blob(rng, (15, 16, 17)), blob(rng, (15, 16, 17))
    assert hausdorff_distance_95(y_true=true, y_pred=pred, spacing=1.7) == hausdorff_distance_95(
        y_true=true, y_pred=pred, spacing=(1.7, 1.7, 1.7)
    )


@settings(max_examples=40, deadline=None)
@given(
    masks=hnp.arrays(bool, st.tuples(*[st.integers(2, 6)] * 3)).flatmap(
        lambda a: st.tuples(st.just(a), hnp.arrays(bool, a.shape))
    ),
    spacing=st.tuples(*[st.floats(0.25, 4.0)] * 3),
)
def test_property_matches_reference_on_arbitrary_masks(masks, spacing):
    pred, true = masks
    if not pred.any() or not true.any():
        return
    assert_matches(all_scores(pred, true, spacing), reference_scores(pred, true, spacing))


# -- the reference comes first (scikit-learn's order) -----------------------------------------


def asymmetric_pair():
    """A reference square and a prediction one column wider: directed ASD depends on order."""
    true = np.zeros((8, 9), dtype=bool)
    true[2:6, 2:6] = True
    pred = np.zeros_like(true)
    pred[2:6, 2:7] = True
    return true, pred


def test_directed_asd_reads_reference_first_positionally_and_by_keyword():
    true, pred = asymmetric_pair()
    by_position = average_surface_distance(true, pred, symmetric=False)
    by_keyword = average_surface_distance(y_pred=pred, y_true=true, symmetric=False)
    # the mean over the prediction's surface of the distance to the reference's surface
    assert by_position == by_keyword == pytest.approx(4 / 14)
    assert by_position == pytest.approx(medpy_binary.asd(result=pred, reference=true))
    assert average_surface_distance(pred, true, symmetric=False) == pytest.approx(2 / 12)


@pytest.mark.parametrize(
    ("function", "name"),
    [(hausdorff_distance_95, "HD95"), (average_surface_distance, "ASD")],
)
def test_distances_name_the_empty_prediction_positionally_and_by_keyword(function, name):
    true, _ = asymmetric_pair()
    empty = np.zeros_like(true)
    with pytest.warns(UserWarning, match=rf"{name}: `y_pred` is empty"):
        assert function(true, empty) == np.inf
    with pytest.warns(UserWarning, match=rf"{name}: `y_pred` is empty"):
        assert function(y_pred=empty, y_true=true) == np.inf


def test_dice_reads_reference_first_positionally_and_by_keyword():
    true, pred = asymmetric_pair()
    assert dice_score(true, pred) == dice_score(y_pred=pred, y_true=true) == 2 * 16 / 36
    with pytest.raises(ValueError, match=r"`y_pred` must be a binary mask"):
        dice_score(true, 2 * pred)
    with pytest.raises(ValueError, match=r"`y_pred` must be a binary mask"):
        dice_score(y_pred=2 * pred, y_true=true)


def test_segmentation_scores_read_reference_first_positionally_and_by_keyword():
    true = np.zeros((6, 7, 8), dtype=np.uint8)
    true[1:3, 1:3, 1:3] = 1
    true[4:, 4:, 4:] = 2
    pred = true.copy()
    pred[pred == 2] = 0
    with pytest.warns(UserWarning, match=r"class 2: `y_pred` is empty"):
        by_position = segmentation_scores(true, pred, n_classes=3)
    with pytest.warns(UserWarning, match=r"class 2: `y_pred` is empty"):
        by_keyword = segmentation_scores(y_pred=pred, y_true=true, n_classes=3)
    for metric in ("dice", "hd95", "asd"):
        np.testing.assert_array_equal(by_position[metric], by_keyword[metric])
    with pytest.raises(ValueError, match=r"`y_pred` must hold labels in \[0, n_classes=3\)"):
        segmentation_scores(true, 3 * pred, n_classes=3)


# -- empty masks ----------------------------------------------------------------------------


def test_both_empty_gives_perfect_scores_without_warning():
    empty = np.zeros((5, 6, 7), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = all_scores(empty, empty, (1.0, 1.0, 2.0))
    assert scores == {"dice": 1.0, "hd95": 0.0, "hd95_monai": 0.0, "asd": 0.0, "asd_directed": 0}


@pytest.mark.parametrize("empty_name", ["y_pred", "y_true"])
def test_one_empty_gives_inf_with_warning(empty_name):
    full = np.zeros((5, 6, 7), dtype=bool)
    full[1:3, 2:4, 3:5] = True
    empty = np.zeros_like(full)
    pred, true = (empty, full) if empty_name == "y_pred" else (full, empty)
    assert dice_score(y_true=true, y_pred=pred) == 0.0
    with pytest.warns(UserWarning, match=rf"HD95: `{empty_name}` is empty .* inf"):
        assert hausdorff_distance_95(y_true=true, y_pred=pred) == np.inf
    with pytest.warns(UserWarning, match=rf"ASD: `{empty_name}` is empty .* inf"):
        assert average_surface_distance(y_true=true, y_pred=pred, symmetric=False) == np.inf


# -- multi-class ------------------------------------------------------------------------------


def label_maps(rng, shape, n_classes):
    true = np.argmax(
        [ndimage.gaussian_filter(rng.standard_normal(shape), 2) for _ in range(n_classes)], 0
    )
    pred = true.copy()
    flip = rng.random(shape) < 0.05
    pred[flip] = rng.integers(0, n_classes, flip.sum())
    return pred, true


@pytest.mark.parametrize("include_background", [False, True])
@pytest.mark.parametrize("hd95_method", ["medpy", "monai"])
def test_segmentation_scores_equal_binary_functions(rng, include_background, hd95_method):
    pred, true = label_maps(rng, (14, 15, 16), n_classes=4)
    spacing = (0.7, 0.7, 2.5)
    scores = segmentation_scores(
        y_true=true,
        y_pred=pred,
        spacing=spacing,
        include_background=include_background,
        hd95_method=hd95_method,
    )
    classes = range(0 if include_background else 1, 4)
    expected = {
        "dice": [dice_score(y_true=true == k, y_pred=pred == k) for k in classes],
        "hd95": [
            hausdorff_distance_95(
                y_true=true == k, y_pred=pred == k, spacing=spacing, method=hd95_method
            )
            for k in classes
        ],
        "asd": [
            average_surface_distance(y_true=true == k, y_pred=pred == k, spacing=spacing)
            for k in classes
        ],
    }
    assert sorted(scores) == ["asd", "dice", "hd95"]
    for name, values in expected.items():
        assert scores[name].dtype == np.float64
        np.testing.assert_allclose(scores[name], values, rtol=0, atol=1e-12)


def test_segmentation_scores_match_medpy_per_class(rng):
    pred, true = label_maps(rng, (20, 18), n_classes=3)
    pred = pred.astype(np.float32)  # floats holding integers are accepted
    spacing = (0.8, 1.9)
    scores = segmentation_scores(y_true=true, y_pred=pred, spacing=spacing, n_classes=3)
    for i, k in enumerate((1, 2)):
        assert scores["dice"][i] == pytest.approx(medpy_binary.dc(pred == k, true == k))
        hd95 = medpy_binary.hd95(pred == k, true == k, voxelspacing=spacing)
        assd = medpy_binary.assd(pred == k, true == k, voxelspacing=spacing)
        assert scores["hd95"][i] == pytest.approx(hd95, abs=1e-6)
        assert scores["asd"][i] == pytest.approx(assd, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    labels=hnp.arrays(
        np.uint8, st.tuples(*[st.integers(3, 8)] * 3), elements=st.sampled_from([0] * 6 + [1, 2])
    ).flatmap(
        lambda a: st.tuples(
            st.just(a),
            hnp.arrays(np.uint8, a.shape, elements=st.sampled_from([0] * 6 + [1, 2])),
        )
    ),
    include_background=st.booleans(),
)
def test_property_segmentation_scores_equal_binary_functions(labels, include_background):
    """Sparse objects anywhere in the volume: the per-class crops give the binary values."""
    pred, true = labels
    spacing = (0.6, 1.0, 2.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = segmentation_scores(
            y_true=true,
            y_pred=pred,
            n_classes=3,
            spacing=spacing,
            include_background=include_background,
        )
        classes = range(0 if include_background else 1, 3)
        for i, k in enumerate(classes):
            assert scores["dice"][i] == dice_score(y_true=true == k, y_pred=pred == k)
            hd95 = hausdorff_distance_95(y_true=true == k, y_pred=pred == k, spacing=spacing)
            asd = average_surface_distance(y_true=true == k, y_pred=pred == k, spacing=spacing)
            assert scores["hd95"][i] == hd95
            assert scores["asd"][i] == asd


def test_segmentation_scores_small_objects_away_from_origin():
    pred = np.zeros((30, 31, 32), dtype=np.int16)
    true = np.zeros_like(pred)
    true[20:25, 22:26, 10:14] = 1
    true[8:10, 25:29, 27:31] = 2
    pred[21:25, 21:26, 10:15] = 1
    pred[8:11, 26:29, 28:32] = 2
    spacing = (0.7, 0.7, 2.5)
    scores = segmentation_scores(y_true=true, y_pred=pred, spacing=spacing)
    for i, k in enumerate((1, 2)):
        expected = medpy_scores(pred == k, true == k, spacing)
        assert scores["dice"][i] == pytest.approx(expected["dice"])
        assert scores["hd95"][i] == pytest.approx(expected["hd95"], abs=1e-6)
        assert scores["asd"][i] == pytest.approx(expected["asd"], abs=1e-6)


def test_segmentation_scores_absent_classes():
    true = np.zeros((6, 7, 8), dtype=np.uint8)
    true[1:3, 1:3, 1:3] = 1
    true[4:, 4:, 4:] = 2
    pred = true.copy()
    pred[pred == 2] = 0  # class 2 missed; class 3 absent from both maps
    with pytest.warns(UserWarning, match=r"class 2: `y_pred` is empty"):
        scores = segmentation_scores(y_true=true, y_pred=pred, n_classes=4)
    np.testing.assert_array_equal(scores["dice"], [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(scores["hd95"], [0.0, np.inf, 0.0])
    np.testing.assert_array_equal(scores["asd"], [0.0, np.inf, 0.0])


def test_segmentation_scores_infers_n_classes():
    true = np.zeros((5, 5), dtype=int)
    true[1:3, 1:3] = 3
    scores = segmentation_scores(y_true=true, y_pred=true)
    assert scores["dice"].tolist() == [1.0, 1.0, 1.0]
    background_only = segmentation_scores(
        y_true=np.zeros((4, 4), int), y_pred=np.zeros((4, 4), int)
    )
    assert background_only["dice"].tolist() == [1.0]


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("function", [dice_score, hausdorff_distance_95, average_surface_distance])
def test_shape_mismatch_names_argument(function):
    with pytest.raises(
        ValueError,
        match=r"`y_pred` must have the same shape as `y_true` "
        r"\(4, 5\); got \(4, 6\)",
    ):
        function(np.ones((4, 5), bool), np.ones((4, 6), bool))


@pytest.mark.parametrize("function", [dice_score, hausdorff_distance_95, average_surface_distance])
@pytest.mark.parametrize(
    "bad",
    [
        np.array([[0, 2], [1, 0]]),
        np.array([[0.5, 1.0], [0, 0]]),
        np.array([[np.nan, 1.0], [0, 0]]),
    ],
)
def test_non_binary_input_names_argument(function, bad):
    good = np.ones((2, 2), bool)
    with pytest.raises(ValueError, match=r"`y_true` must be a binary mask .* got values"):
        function(bad, good)
    with pytest.raises(ValueError, match=r"`y_pred` must be a binary mask .* got values"):
        function(good, bad)


def test_non_numeric_mask_is_type_error():
    with pytest.raises(TypeError, match=r"`y_pred` must be a binary mask .* got dtype <U1"):
        dice_score(y_true=np.ones(2, bool), y_pred=np.array(["a", "b"]))


def test_zero_dimensional_mask():
    with pytest.raises(ValueError, match=r"`y_true` must be an array with at least one axis"):
        dice_score(y_true=True, y_pred=True)


@pytest.mark.parametrize(
    "spacing",
    [
        (1.0, 1.0),
        (1, 1, 1, 1),
        (1.0, 0.0, 1.0),
        (1, -2, 1),
        (1.0, np.nan, 1.0),
        -1.0,
        "abc",
        ((1, 2), (3, 4), (5, 6)),
    ],
)
@pytest.mark.parametrize("function", [hausdorff_distance_95, average_surface_distance])
def test_bad_spacing_names_argument(function, spacing):
    mask = np.ones((3, 4, 5), bool)
    with pytest.raises(
        ValueError,
        match=r"`spacing` must be a positive finite number or a "
        r"sequence of 3 positive finite numbers",
    ):
        function(mask, mask, spacing=spacing)


def test_bad_spacing_in_segmentation_scores():
    labels = np.ones((3, 4), int)
    with pytest.raises(ValueError, match=r"`spacing` must be .* sequence of 2 positive"):
        segmentation_scores(y_true=labels, y_pred=labels, spacing=(1.0, 0.0))


def test_bad_method_and_symmetric():
    mask = np.ones((3, 3), bool)
    with pytest.raises(
        ValueError, match=r"`method` must be one of \('medpy', 'monai'\); got 'max'"
    ):
        hausdorff_distance_95(y_true=mask, y_pred=mask, method="max")
    with pytest.raises(
        ValueError, match=r"`hd95_method` must be one of \('medpy', 'monai'\); got None"
    ):
        segmentation_scores(y_true=mask, y_pred=mask, hd95_method=None)
    with pytest.raises(TypeError, match=r"`symmetric` must be a bool; got 'yes'"):
        average_surface_distance(y_true=mask, y_pred=mask, symmetric="yes")


@pytest.mark.parametrize(
    ("pred", "true", "kwargs", "message"),
    [
        (
            [0, 1, 2],
            [0, 1],
            {},
            r"`y_pred` must have the same shape as "
            r"`y_true` \(2,\); got \(3,\)",
        ),
        (
            [0, -1, 2],
            [0, 1, 2],
            {},
            r"`y_pred` must hold non-negative class labels; "
            r"got minimum -1",
        ),
        ([0, 1, 2], [0, 1.5, 2], {}, r"`y_true` must hold integer class labels"),
        (
            [0, 1, 3],
            [0, 1, 2],
            {"n_classes": 3},
            r"`y_pred` must hold labels in "
            r"\[0, n_classes=3\); got label 3",
        ),
        ([0, 1, 2], [0, 1, 2], {"n_classes": 1}, r"`n_classes` must be an int >= 2; got 1"),
    ],
)
def test_bad_label_maps(pred, true, kwargs, message):
    with pytest.raises(ValueError, match=message):
        segmentation_scores(y_true=np.array(true), y_pred=np.array(pred), **kwargs)


def test_n_classes_of_another_type_is_a_type_error():
    labels = np.array([0, 1, 2])
    with pytest.raises(TypeError, match=r"`n_classes` must be an int >= 2; got 3\.0"):
        segmentation_scores(labels, labels, n_classes=3.0)


def test_non_numeric_labels_is_type_error():
    with pytest.raises(
        TypeError,
        match=r"`y_pred` must hold integer class labels; "
        r"got dtype",
    ):
        segmentation_scores(y_true=np.array([0]), y_pred=np.array(["a"]))


# -- housekeeping ---------------------------------------------------------------------------


def test_docstring_examples_run():
    import speccal.metrics._segmentation as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


def test_metrics_and_evaluator_do_not_import_tensorflow():
    code = (
        "import numpy as np\n"
        "from speccal.evaluation import SegmentationEvaluator\n"
        "from speccal.metrics import segmentation_scores\n"
        "segmentation_scores(y_true=np.eye(4, dtype=int), y_pred=np.eye(4, dtype=int))\n"
        "SegmentationEvaluator().fit(np.eye(4, dtype=int), np.eye(4, dtype=int))\n"
    )
    assert modules_loaded_by(code) == []

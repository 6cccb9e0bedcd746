"""``speccal score``: predictions saved by other frameworks, scored from files."""

import csv
import json
import warnings

import nibabel as nib
import numpy as np
import pytest
from prediction_files import (
    N_CLASSES,
    SHAPES,
    SPACINGS,
    make_case,
    write_labels,
    write_predictions,
)
from scipy import special

from speccal.evaluation import CalibrationEvaluator, SegmentationEvaluator
from speccal.experiments import read_results, score_predictions
from speccal.experiments._predictions import match_predictions, read_prediction

SCORE_KEYS = (
    "ece",
    "sce",
    "tace",
    "boundary_ece",
    "dice",
    "hd95",
    "asd",
    "ece_pooled",
    "sce_pooled",
)


@pytest.fixture
def cases(rng):
    """Three cases: ``(case_id, label, logits, spacing, affine)``."""
    out = []
    for i, (shape, spacing) in enumerate(zip(SHAPES, SPACINGS, strict=True)):
        label, logits = make_case(rng, shape)
        affine = np.diag([*spacing, 1.0])
        affine[:3, 3] = [10.0 * i, -5.0, 3.0]
        out.append((f"case_{i:03d}", label, logits, spacing, affine))
    return out


@pytest.fixture
def labels(tmp_path, cases):
    return write_labels(tmp_path / "labelsTs", cases)


def _score(tmp_path, preds, labels, name, **kwargs):
    return score_predictions(preds, labels, tmp_path / name, progress=False, **kwargs)


def test_formats_agree_and_equal_the_evaluators(tmp_path, cases, labels):
    results = {}
    for kind in ("npz", "npy", "nii.gz", "nii"):
        preds = write_predictions(tmp_path / kind.replace(".", "_"), cases, kind)
        results[kind] = _score(tmp_path, preds, labels, f"out_{kind}")
    reference = results["npz"]
    for kind, metrics in results.items():
        assert metrics["n_volumes"] == 3, kind
        for key in SCORE_KEYS:
            assert metrics[key] == pytest.approx(reference[key], rel=1e-12, abs=1e-15), (kind, key)

    probs = [special.softmax(v, axis=-1).astype(np.float32) for _, _, v, _, _ in cases]
    truths = [label for _, label, _, _, _ in cases]
    calibration = CalibrationEvaluator(per_volume=True).fit(truths, probs)
    for key in ("ece", "sce", "tace"):
        assert reference[f"{key}_pooled"] == pytest.approx(calibration.scores_[key], rel=1e-12)
        assert reference[key] == pytest.approx(np.mean(calibration.volume_scores_[key]), rel=1e-12)
    spacings = [np.float32(s).tolist() for _, _, _, s, _ in cases]  # as the header stores it
    boundary = CalibrationEvaluator(metrics=("boundary_ece",), per_volume=True)
    boundary.fit(truths, probs, spacing=spacings)
    assert reference["boundary_ece_pooled"] == pytest.approx(boundary.score_, rel=1e-12)
    assert reference["boundary_ece"] == pytest.approx(
        np.mean(boundary.volume_scores_["boundary_ece"]), rel=1e-12
    )
    segmentation = SegmentationEvaluator(n_classes=N_CLASSES).fit(
        y_true=truths,
        y_pred=[p.argmax(-1) for p in probs],
        spacing=spacings,
    )
    for key in ("dice", "hd95", "asd"):
        assert reference[key] == pytest.approx(segmentation.scores_[key].mean(), rel=1e-12)

    out = tmp_path / "out_npz"
    assert read_results([out]) == [reference]
    assert (reference["method"], reference["dataset"]) == ("npz", "labelsTs")
    with open(out / "per_volume.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["case_id"] for r in rows] == ["case_000", "case_001", "case_002"]
    assert float(rows[1]["ece"]) == pytest.approx(calibration.volume_scores_["ece"][1], rel=1e-12)
    reliability = np.load(out / "reliability.npz")
    assert reliability["bin_count"].sum() == sum(np.prod(s) for s in SHAPES)
    np.testing.assert_array_equal(  # per-volume bins, for bootstrap bands in the figures
        reliability["volume_bin_sums"][:, 0].sum(0), reliability["bin_count"]
    )
    assert reliability["volume_bin_sums"].shape == (3, 3, 15)
    example = np.load(out / "example.npz")
    assert example["probability"].shape == (*example["label"].shape, N_CLASSES)
    assert not (out / "spectrum.npz").exists()


def test_nnunet_folder_is_scored_as_it_is(tmp_path, cases, labels):
    preds = write_predictions(tmp_path / "nnunet", cases, "npz")
    pairs = match_predictions(preds, labels)
    assert [p.prediction.name for p in pairs] == ["case_000.npz", "case_001.npz", "case_002.npz"]
    assert read_prediction(pairs[0].prediction).shape == (*SHAPES[0], N_CLASSES)


def test_axes_override_reads_channel_first_arrays(tmp_path, cases, labels):
    expected = _score(tmp_path, write_predictions(tmp_path / "npy", cases, "npy"), labels, "a")
    preds = write_predictions(tmp_path / "cxyz", cases, "cxyz")
    with pytest.raises(ValueError, match=r"case_000\.npy.*must equal the shape .*wrong --axes"):
        _score(tmp_path, preds, labels, "b")
    metrics = _score(tmp_path, preds, labels, "c", axes="CXYZ")
    assert metrics["ece_pooled"] == expected["ece_pooled"]
    with pytest.raises(ValueError, match=r"`axes` must be a permutation of the letters c, x, y"):
        _score(tmp_path, preds, labels, "d", axes="cxy")


def test_logits_equal_their_softmax(tmp_path, cases, labels):
    expected = _score(tmp_path, write_predictions(tmp_path / "p", cases, "npy"), labels, "a")
    preds = write_predictions(tmp_path / "logits", cases, "npy", logits=True)
    with pytest.raises(ValueError, match=r"case_000\.npy'?: .*\(logits\? pass --logits\)"):
        _score(tmp_path, preds, labels, "b")
    metrics = _score(tmp_path, preds, labels, "c", from_logits=True)
    for key in SCORE_KEYS:
        assert metrics[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7)


def test_protocol_preset_is_used_and_stated(tmp_path, cases, labels):
    preds = write_predictions(tmp_path / "p", cases, "npy")
    metrics = _score(tmp_path, preds, labels, "out", protocol="mbls")
    probs = [special.softmax(v, axis=-1).astype(np.float32) for _, _, v, _, _ in cases]
    evaluator = CalibrationEvaluator(protocol="mbls").fit([c[1] for c in cases], probs)
    assert metrics["ece_pooled"] == pytest.approx(evaluator.scores_["ece"], rel=1e-12)
    assert "mbls: ground-truth foreground voxels" in metrics["protocol"]
    with pytest.raises(ValueError, match=r"`protocol` must be one of .*'monai'\); got 'guo'"):
        _score(tmp_path, preds, labels, "bad", protocol="guo")


def test_missing_cases_are_refused_by_name_or_skipped(tmp_path, cases, labels):
    preds = write_predictions(tmp_path / "p", cases[:2], "npy")
    np.save(preds / "extra.npy", np.full((2, 2, 2, 3), 1 / 3, np.float32))
    with pytest.raises(ValueError, match=r"without a label .*'extra'.*without a prediction .*"
                       r"'case_002'.*--allow-missing"):  # fmt: skip
        _score(tmp_path, preds, labels, "out")
    with pytest.warns(UserWarning, match=r"skipped predictions without a label .*'extra'"):
        metrics = _score(tmp_path, preds, labels, "out", allow_missing=True)
    assert metrics["n_volumes"] == 2


def test_bad_files_are_named(tmp_path, cases, labels):
    preds = write_predictions(tmp_path / "p", cases, "npy")
    bad = special.softmax(cases[1][2], axis=-1).astype(np.float32)
    bad[1, 2, 3, 0] = np.nan
    np.save(preds / "case_001.npy", bad)
    with pytest.raises(ValueError, match=r"case_001\.npy'?: `y_prob` must contain only finite"):
        _score(tmp_path, preds, labels, "nan")
    np.save(preds / "case_001.npy", bad[:-1])
    with pytest.raises(ValueError, match=r"case_001\.npy'?: the prediction's spatial shape"):
        _score(tmp_path, preds, labels, "shape")
    (preds / "case_001.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"could not read .*case_001\.npy"):
        _score(tmp_path, preds, labels, "corrupt")
    (preds / "case_001.npy").unlink()
    np.savez_compressed(preds / "case_001.npz", softmax=bad)
    with pytest.raises(ValueError, match=r"case_001\.npz' must hold the array 'probabilities'"):
        _score(tmp_path, preds, labels, "key")
    np.save(preds / "case_001.npy", bad)
    with pytest.raises(ValueError, match=r"case 'case_001' has several prediction files"):
        _score(tmp_path, preds, labels, "two")


def test_output_folder_is_checked(tmp_path, cases, labels):
    preds = write_predictions(tmp_path / "p", cases, "npy")
    with pytest.raises(ValueError, match=r"`out` must lie outside `pred_dir`"):
        score_predictions(preds, labels, preds / "scores", progress=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"`out` .*busy' holds files but no metrics\.json"):
        _score(tmp_path, preds, labels, "busy")
    first = _score(tmp_path, preds, labels, "again")
    assert _score(tmp_path, preds, labels, "again") == first  # an earlier output is replaced
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == [
        "example.npz", "metrics.json", "per_volume.csv", "reliability.npz"
    ]  # fmt: skip


def test_save_maps_writes_viewer_ready_niftis(tmp_path, cases, labels):
    preds = write_predictions(tmp_path / "p", cases, "npz")
    _score(tmp_path, preds, labels, "out", save_maps=True)
    case_id, label, logits, _, _ = cases[1]
    affine = nib.load(labels / f"{case_id}.nii.gz").affine
    probs = special.softmax(logits, axis=-1).astype(np.float32)
    maps = {
        name: nib.load(tmp_path / "out" / "maps" / f"{case_id}_{name}.nii.gz")
        for name in ("prediction", "confidence", "entropy", "error")
    }
    for image in maps.values():
        np.testing.assert_array_equal(image.affine, affine)
    prediction = np.asanyarray(maps["prediction"].dataobj)
    np.testing.assert_array_equal(prediction, probs.argmax(-1))
    np.testing.assert_array_equal(np.asanyarray(maps["error"].dataobj), prediction != label)
    np.testing.assert_allclose(maps["confidence"].get_fdata(), probs.max(-1), rtol=1e-6)
    entropy = -(probs * np.log(probs)).sum(-1)
    np.testing.assert_allclose(maps["entropy"].get_fdata(), entropy, rtol=1e-5)


def test_metrics_json_is_standard(tmp_path, cases, labels):
    preds = write_predictions(tmp_path / "p", cases, "npy")
    _score(tmp_path, preds, labels, "out")
    text = (tmp_path / "out" / "metrics.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard {c}"))
    assert data["protocol"].startswith("voxels and bins: speccal")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray temporary files
        assert not list((tmp_path / "out").glob(".*tmp*"))


@pytest.mark.parametrize(
    ("shape", "dtype", "slope"),
    [
        ((7, 6, 5, 3), np.float32, None),  # MONAI's (X, Y, Z, C)
        ((7, 6, 5, 1, 3), np.float32, None),  # the NIfTI vector layout
        ((7, 6, 5, 3), np.int16, 0.001),  # scaled integers: nibabel's float values
    ],
    ids=["4d", "5d", "scaled"],
)
@pytest.mark.parametrize("block_bytes", [200, 16 << 20], ids=["pieces", "one-piece"])
def test_compressed_nifti_is_read_with_the_values_nibabel_reads(
    tmp_path, monkeypatch, shape, dtype, slope, block_bytes
):
    from speccal.experiments import _predictions

    monkeypatch.setattr(_predictions, "_READ_BLOCK_BYTES", block_bytes)
    values = np.random.default_rng(0).random(shape)
    data = (values * 1000).astype(dtype) if slope else values.astype(dtype)
    image = nib.Nifti1Image(data, np.eye(4))
    if slope:
        image.header.set_slope_inter(slope, 0.0)
    nib.save(image, tmp_path / "case.nii.gz")
    read = _predictions._read_nifti(tmp_path / "case.nii.gz")
    expected = np.asanyarray(nib.load(tmp_path / "case.nii.gz").dataobj)
    assert read.dtype == expected.dtype and read.shape == expected.shape
    assert read.flags.f_contiguous
    np.testing.assert_array_equal(read, expected)


@pytest.mark.parametrize(
    "stored",
    [
        lambda a: a.transpose(3, 2, 1, 0),  # nnU-Net: Fortran order on disk
        lambda a: np.asfortranarray(a).astype(">f4"),  # big-endian, Fortran order
        lambda a: a.transpose(3, 2, 1, 0).copy(),  # C order: numpy reads it
    ],
    ids=["nnunet", "big-endian", "c-order"],
)
@pytest.mark.parametrize("block_bytes", [1000, 16 << 20], ids=["blocks", "one-block"])
def test_npz_is_read_c_ordered_with_the_values_numpy_reads(
    tmp_path, monkeypatch, stored, block_bytes
):
    from speccal.experiments import _predictions

    monkeypatch.setattr(_predictions, "_READ_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(_predictions, "_READ_PIECE_BYTES", 333)  # pieces across block ends
    array = stored(np.random.default_rng(0).random((7, 8, 9, 3), dtype=np.float32))
    np.savez_compressed(tmp_path / "case.npz", probabilities=array)
    read, order = _predictions.read_stored_prediction(tmp_path / "case.npz")
    assert order == "czyx" and read.flags.c_contiguous
    assert read.dtype == array.dtype and read.shape == array.shape
    np.testing.assert_array_equal(read, np.load(tmp_path / "case.npz")["probabilities"])


def test_npz_cut_short_is_named(tmp_path):
    import io
    import zipfile

    array = np.random.default_rng(0).random((3, 9, 8, 7), dtype=np.float32)
    member = io.BytesIO()
    np.save(member, np.asfortranarray(array))
    with zipfile.ZipFile(tmp_path / "case.npz", "w") as archive:  # a valid zip, short data
        archive.writestr("probabilities.npy", member.getvalue()[:-100])
    with pytest.raises(
        ValueError, match=r"could not read .*case\.npz.*ends early: expected 6048 bytes, got 5948"
    ):
        read_prediction(tmp_path / "case.npz")


@pytest.mark.parametrize(
    ("kind", "bound"),
    [("npz", 1.8), ("nii.gz", 1.8), ("nii", 0.8)],
    ids=["nnunet-npz", "monai-nii-gz", "monai-nii"],
)
def test_one_case_is_held_once_while_scored(tmp_path, monkeypatch, rng, kind, bound):
    """A Fortran-ordered ``.npz`` is read into C order block by block, a compressed NIfTI
    file piece by piece and scored with its axes reversed (the same memory, C-ordered), an
    uncompressed one memory-mapped: when scoring starts, the traced peak is one volume, its
    label and a block, not two volumes (none for the memory map)."""
    import tracemalloc

    from speccal.experiments import _score

    shape = (80, 72, 56)
    label, logits = make_case(rng, shape)
    probs = special.softmax(logits, axis=-1).astype(np.float32)
    cases = [("case_000", label, logits, (1.0, 1.0, 1.0), np.eye(4))]
    preds = write_predictions(tmp_path / "p", cases, kind)
    labels = write_labels(tmp_path / "l", cases)
    pair = match_predictions(preds, labels)[0]
    seen = {}
    score_volume = _score.score_volume

    def record(y_true, y_prob, **kwargs):
        seen["peak"] = tracemalloc.get_traced_memory()[1]
        seen["c_contiguous"] = y_prob.flags.c_contiguous
        return score_volume(y_true, y_prob, **kwargs)

    monkeypatch.setattr(_score, "score_volume", record)
    tracemalloc.start()
    try:
        scores = _score.score_case(pair)
    finally:
        tracemalloc.stop()
    assert seen["c_contiguous"]
    # measured 1.55 x (npz, nii.gz: the volume, its label, a read block) and 0.51 x (nii);
    # 2.17 x for npz with np.load and a copy, 2.09 x for nii.gz read by nibabel and copied;
    # the nii memory map was scored Fortran-ordered (not C-contiguous), through an index
    assert seen["peak"] < bound * probs.nbytes
    assert scores.rows[0]["case_id"] == "case_000"
    assert not np.shares_memory(scores.example[1]["label"], label)

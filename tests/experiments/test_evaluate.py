import csv
import json
import warnings

import numpy as np
import pytest
from tiny_runs import tiny_config

pytest.importorskip("tensorflow")

from speccal.experiments import RunConfig, evaluate_run, read_results, train_run  # noqa: E402

KEYS = (
    "method",
    "dataset",
    "ece",
    "sce",
    "tace",
    "boundary_ece",
    "boundary_ece_pooled",
    "dice",
    "hd95",
    "asd",
    "protocol",
)


@pytest.mark.slow
def test_evaluate_writes_every_result_file(tmp_path, fake_dataset):
    from speccal.experiments._data import load_volumes
    from speccal.experiments._evaluate import load_trained_model
    from speccal.inference import sliding_window_predict
    from speccal.metrics import (
        boundary_calibration_error,
        expected_calibration_error,
        negative_log_likelihood,
        segmentation_scores,
        static_calibration_error,
        thresholded_adaptive_calibration_error,
    )

    config = tiny_config(tmp_path, epochs=1, seed=0)
    run = tmp_path / "run"
    train_run(config, run, progress=False)
    metrics = evaluate_run(run, progress=False)
    assert set(KEYS) <= set(metrics)
    _strict_json((run / "metrics.json").read_text())  # standard JSON, even with inf distances
    assert read_results([run]) == [metrics]
    assert (metrics["method"], metrics["dataset"]) == ("ce", "synthetic")

    split = json.loads((run / "split.json").read_text())
    with open(run / "per_volume.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["case_id"] for r in rows] == split["test"]
    for key in ("ece", "sce", "tace", "boundary_ece", "nll", "dice", "hd95", "asd"):
        assert metrics[key] == pytest.approx(np.mean([float(r[key]) for r in rows]))

    # an independent recomputation of the first test volume's row
    case = load_volumes(fake_dataset, split["test"][:1], config.cache_dir)[0]
    model = load_trained_model(run, config, 2, 4)
    probs = sliding_window_predict(model, case.image, (8, 8, 8))
    assert float(rows[0]["ece"]) == pytest.approx(
        expected_calibration_error(case.label, probs, n_bins=15), rel=1e-4
    )
    assert float(rows[0]["boundary_ece"]) == pytest.approx(
        boundary_calibration_error(case.label, probs, spacing=case.spacing, width=2.0), rel=1e-4
    )
    assert float(rows[0]["nll"]) == pytest.approx(
        negative_log_likelihood(case.label, probs), rel=1e-4
    )
    per_class = {
        "sce": static_calibration_error(case.label, probs, average=None),
        "tace": thresholded_adaptive_calibration_error(case.label, probs, average=None),
    }
    for key, values in per_class.items():
        got = [float(rows[0][f"{key}_{k}"]) for k in range(4)]
        np.testing.assert_allclose(got, values, rtol=1e-4, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # an empty class: inf distance
        scores = segmentation_scores(
            y_true=case.label, y_pred=probs.argmax(-1), n_classes=4, spacing=case.spacing
        )
    assert float(rows[0]["dice"]) == pytest.approx(np.mean(scores["dice"]), rel=1e-6)

    reliability = np.load(run / "reliability.npz")
    test_voxels = len(split["test"]) * 16 * 16 * 12
    assert reliability["bin_count"].shape == (15,)
    assert reliability["bin_count"].sum() == test_voxels

    spectrum = np.load(run / "spectrum.npz")
    assert spectrum["frequencies"].shape == spectrum["power"].shape
    assert spectrum["frequencies"][-1] == pytest.approx(0.5)
    assert np.all(spectrum["power"] >= 0)

    example = np.load(run / "example.npz")
    probs = example["probability"]
    assert probs.shape[-1] == 4 and example["image"].shape == probs.shape[:-1]
    assert example["label"].shape == probs.shape[:-1]
    np.testing.assert_allclose(example["confidence"], probs.max(-1))
    np.testing.assert_allclose(probs.sum(-1), 1, atol=1e-5)


def test_evaluate_without_checkpoint_names_the_file(tmp_path, fake_dataset):
    RunConfig(dataset="synthetic", root=str(tmp_path)).save(tmp_path)
    ids = fake_dataset.case_ids
    split = {"train": ids[:4], "val": ids[4:5], "test": ids[5:]}
    (tmp_path / "split.json").write_text(json.dumps(split))
    with pytest.raises(
        FileNotFoundError, match=r"latest\.json not found: the run has no complete"
    ):
        evaluate_run(tmp_path, progress=False)
    split["test"] = ["case_from_elsewhere"]
    (tmp_path / "split.json").write_text(json.dumps(split))
    with pytest.raises(ValueError, match=r"\['case_from_elsewhere'\] are not \(was the run's"):
        evaluate_run(tmp_path, progress=False)


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_missed_classes_give_inf_distances_in_standard_json(tmp_path, fake_dataset, monkeypatch):
    # a model that predicts background everywhere misses every foreground class: HD95 = inf
    import keras

    from speccal.experiments import _evaluate

    def background_model(run_dir, config, in_channels, n_classes):
        inputs = keras.Input((None, None, None, in_channels))
        bias = keras.initializers.Constant([10.0] + [0.0] * (n_classes - 1))
        outputs = keras.layers.Conv3D(
            n_classes, 1, kernel_initializer="zeros", bias_initializer=bias
        )(inputs)
        return keras.Model(inputs, outputs)

    monkeypatch.setattr(_evaluate, "load_trained_model", background_model)
    RunConfig(dataset="synthetic", root=str(tmp_path), patch_size=(8, 8, 8)).save(tmp_path)
    metrics = evaluate_run(tmp_path, progress=False)
    assert metrics["hd95"] == metrics["asd"] == float("inf")
    written = _strict_json((tmp_path / "metrics.json").read_text())
    assert written["hd95"] == written["asd"] == "inf"
    assert read_results([tmp_path]) == [metrics]


def _background_model(run_dir, config, in_channels, n_classes):
    """A model whose logits are 10 for background and 0 elsewhere, at every voxel."""
    import keras

    inputs = keras.Input((None, None, None, in_channels))
    bias = keras.initializers.Constant([10.0] + [0.0] * (n_classes - 1))
    outputs = keras.layers.Conv3D(n_classes, 1, kernel_initializer="zeros", bias_initializer=bias)(
        inputs
    )
    return keras.Model(inputs, outputs)


def test_protocol_preset_and_voxel_maps(tmp_path, fake_dataset, monkeypatch):
    import nibabel as nib
    from scipy import special

    from speccal.evaluation import CalibrationEvaluator
    from speccal.experiments import _evaluate
    from speccal.experiments._data import load_volumes

    monkeypatch.setattr(_evaluate, "load_trained_model", _background_model)
    config = RunConfig(
        dataset="synthetic",
        root=str(tmp_path),
        patch_size=(8, 8, 8),
        cache_dir=str(tmp_path / "c"),
    )
    config.save(tmp_path)
    metrics = evaluate_run(tmp_path, protocol="mbls", save_maps=True, progress=False)
    assert "mbls: ground-truth foreground voxels" in metrics["protocol"]

    split = json.loads((tmp_path / "split.json").read_text())
    volumes = load_volumes(fake_dataset, split["test"], config.cache_dir)
    probs = special.softmax([10.0, 0.0, 0.0, 0.0])
    expected = CalibrationEvaluator(protocol="mbls").fit(
        [v.label for v in volumes], [np.broadcast_to(probs, (*v.label.shape, 4)) for v in volumes]
    )
    assert metrics["ece_pooled"] == pytest.approx(expected.scores_["ece"], rel=1e-6)

    volume = volumes[0]
    error = nib.load(tmp_path / "maps" / f"{volume.case_id}_error.nii.gz")
    np.testing.assert_array_equal(error.affine, volume.affine)
    np.testing.assert_array_equal(np.asanyarray(error.dataobj), volume.label != 0)
    confidence = nib.load(tmp_path / "maps" / f"{volume.case_id}_confidence.nii.gz")
    np.testing.assert_allclose(confidence.get_fdata(), probs.max(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"`protocol` must be one of .*; got 'guo'"):
        evaluate_run(tmp_path, protocol="guo", progress=False)


def _random_model(run_dir, config, in_channels, n_classes):
    """A fixed random voxel-wise model (logits vary over the volume)."""
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((None, None, None, in_channels))
    outputs = keras.layers.Conv3D(n_classes, 3, padding="same")(inputs)
    return keras.Model(inputs, outputs)


def test_overlapped_evaluation_equals_sequential(tmp_path, fake_dataset, monkeypatch):
    """Scoring case i on a thread while case i + 1 is predicted changes no number."""
    from speccal.experiments import _evaluate
    from speccal.experiments._results import VolumeScores, summary_metrics

    monkeypatch.setattr(_evaluate, "load_trained_model", _random_model)
    config = RunConfig(
        dataset="synthetic", root=str(tmp_path), patch_size=(8, 8, 8), split=(2, 1, 3)
    )
    config.save(tmp_path)
    metrics = evaluate_run(tmp_path, progress=True)
    with open(tmp_path / "per_volume.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3  # two overlaps
    split = json.loads((tmp_path / "split.json").read_text())
    sequential = VolumeScores([])
    for case_id in split["test"]:
        sequential = sequential + _evaluate.evaluate_case(tmp_path.resolve(), case_id)
    expected = summary_metrics(sequential, **config._identity_fields())
    assert expected == metrics

"""The smallest training run the tests train: a RunConfig on SyntheticPhantoms."""


def tiny_config(tmp_path, **overrides):
    """A :class:`RunConfig` that trains in seconds; ``overrides`` replace its fields.

    Synthetic phantoms under ``tmp_path / "data"``, 2 epochs of 2 steps on ``(8, 8, 8)``
    patches, batches of 2, a U-Net of 2 levels and 2 filters, seed 3, the preprocessing cache
    under ``tmp_path / "cache"``.
    """
    from speccal.experiments import RunConfig

    params = {
        "dataset": "synthetic",
        "root": str(tmp_path / "data"),
        "epochs": 2,
        "steps_per_epoch": 2,
        "patch_size": (8, 8, 8),
        "batch_size": 2,
        "model_params": {"base_filters": 2, "depth": 2},
        "seed": 3,
        "cache_dir": str(tmp_path / "cache"),
    }
    return RunConfig(**{**params, **overrides})

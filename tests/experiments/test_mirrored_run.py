"""``strategy="mirrored"`` trains under MirroredStrategy (two logical CPUs, own interpreter)."""

import json
import subprocess
import sys

import pytest

SCRIPT = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from speccal.datasets import SyntheticPhantoms
from speccal.experiments import RunConfig, train_run
root = sys.argv[1]
SyntheticPhantoms.write(root + "/data", n_cases=6, shape=(16, 16, 12), seed=0)
cfg = RunConfig(dataset="synthetic", root=root + "/data", loss="cespectral",
                loss_params={"lam": 0.5, "window": 3, "bands": 3}, epochs=1, steps_per_epoch=2,
                patch_size=(8, 8, 8), batch_size=2, model_params={"base_filters": 2, "depth": 2},
                strategy="mirrored", cache_dir=root + "/cache")
model = train_run(cfg, root + "/run", progress=False)
print(model.distribute_strategy.num_replicas_in_sync, int(model.loss.regularizer.step.numpy()))
"""


@pytest.mark.slow
def test_mirrored_strategy_run(tmp_path):
    pytest.importorskip("tensorflow")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["2", "2"]  # two replicas, two buffer steps
    progress = json.loads(
        (tmp_path / "run" / "checkpoints" / "epoch-0001" / "progress.json").read_text()
    )
    assert (progress["epoch"], progress["step"]) == (1, 2)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["strategy"] == "mirrored"

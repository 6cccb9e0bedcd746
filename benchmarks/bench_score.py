"""``speccal score`` on nnU-Net ``.npz`` or MONAI NIfTI predictions: time, memory, jobs.

Run: ``python benchmarks/bench_score.py [--small] [--volumes N] [--format F] [--keep DIR]``.

Writes, in a temporary folder, ``--volumes`` cases of 240 x 240 x 155 voxels x 4 classes as
nnU-Net v2 writes them with ``--save_probabilities``: ``<case>.npz`` compressed
(``np.savez_compressed``) holding ``probabilities`` float32 ``(C, Z, Y, X)`` (nnU-Net's
softmax runs on ``logits.float()``), ``<case>.pkl`` and the label map ``<case>.nii.gz``
beside it, and the references ``labelsTs/<case>.nii.gz`` (uint8, spacing 1 x 1 x 1 mm). The
labels are tumour-like nested ellipsoids (classes 1-3) in a brain-sized background; the
probabilities a softmax of ``6 * blurred onehot(label) + noise``, so that the errors lie near
the boundaries, as a network's do. Four distinct volumes are generated and copied to make
the cases.

Printed, all measured in this run, one process at a time:

- the time to read every file alone (``np.load(...)["probabilities"]`` and the label with
  nibabel), and ``speccal score`` (``--jobs 1``) on the folder: their ratio (goal <= 3);
- the peak memory of ``speccal score`` in a fresh subprocess (``tracemalloc`` peak of Python
  and numpy allocations; and the growth of the resident-set high-water mark over the
  imports, Linux only)
  divided by the size of one volume's probabilities (goal <= 3);
- ``--jobs 2`` vs ``--jobs 1`` wall time (a LocalCluster of two processes; its start-up is
  included).

``--small`` runs 4 volumes of 96 x 96 x 64 for a quick check. ``--format nii.gz`` writes the
predictions as MONAI's ``SaveImage`` does instead: ``<case>.nii.gz`` float32 ``(X, Y, Z, C)``
(Fortran order on disk, gzip-compressed), with no label map beside them.
"""

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage, special

N_CLASSES = 4
DISTINCT = 4


def make_case(rng, shape):
    """Nested ellipsoids and probabilities that mostly agree with them (float32)."""
    grid = np.indices(shape, sparse=True)
    centre = [n * rng.uniform(0.4, 0.6) for n in shape]
    radii = [n * rng.uniform(0.12, 0.2) for n in shape]
    radius = np.sqrt(sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)))
    label = np.zeros(shape, np.uint8)
    label[radius < 1.0] = 1
    label[radius < 0.7] = 2
    label[radius < 0.35] = 3
    # blurred class indicators: the errors fall near the boundaries, as a network's do
    onehot = np.eye(N_CLASSES, dtype=np.float32)[label]
    logits = 6.0 * ndimage.gaussian_filter(onehot, (1.5, 1.5, 1.5, 0))
    coarse = rng.normal(0.0, 0.5, (*(n // 8 + 1 for n in shape), N_CLASSES)).astype(np.float32)
    logits += coarse.repeat(8, 0).repeat(8, 1).repeat(8, 2)[: shape[0], : shape[1], : shape[2]]
    logits += rng.normal(0.0, 0.3, logits.shape).astype(np.float32)
    probs = special.softmax(logits, axis=-1).astype(np.float32)
    return label, probs


def write_cases(root, n_volumes, shape, seed=0, fmt="npz"):
    """nnU-Net's (or MONAI's) output folder ``preds/`` and the references ``labelsTs/``."""
    rng = np.random.default_rng(seed)
    preds, labels = root / "preds", root / "labelsTs"
    preds.mkdir()
    labels.mkdir()
    affine = np.eye(4)
    for i in range(n_volumes):
        case = f"case_{i:03d}"
        if i < DISTINCT:
            label, probs = make_case(rng, shape)
            if fmt == "npz":
                probs = probs.transpose(3, 2, 1, 0)
                np.savez_compressed(preds / f"{case}.npz", probabilities=probs)
            else:
                nib.save(nib.Nifti1Image(probs, affine), preds / f"{case}.{fmt}")
            nib.save(nib.Nifti1Image(label, affine), labels / f"{case}.nii.gz")
            del probs
        else:
            source = f"case_{i % DISTINCT:03d}"
            shutil.copy(preds / f"{source}.{fmt}", preds / f"{case}.{fmt}")
            shutil.copy(labels / f"{source}.nii.gz", labels / f"{case}.nii.gz")
        if fmt == "npz":
            shutil.copy(labels / f"{case}.nii.gz", preds / f"{case}.nii.gz")  # the label map
            (preds / f"{case}.pkl").write_bytes(pickle.dumps({"spacing": [1.0, 1.0, 1.0]}))
    return preds, labels


def read_all(preds, labels, fmt="npz"):
    """Read every prediction and label once; return the wall time."""
    start = time.perf_counter()
    for path in sorted(preds.glob(f"*.{fmt}")):
        if fmt == "npz":
            with np.load(path) as archive:
                archive["probabilities"].sum(dtype=np.float64)  # touch it
        else:
            np.asanyarray(nib.load(path).dataobj).sum(dtype=np.float64)
        np.asanyarray(nib.load(labels / path.name.replace(f".{fmt}", ".nii.gz")).dataobj)
    return time.perf_counter() - start


def score(preds, labels, out, jobs):
    from speccal.experiments import score_predictions

    start = time.perf_counter()
    metrics = score_predictions(preds, labels, out, jobs=jobs, progress=False)
    return time.perf_counter() - start, metrics


# The resident-set peak is VmHWM of /proc/self/status (Linux): ru_maxrss would carry the
# parent's peak over fork + exec.
MEMORY_SCRIPT = """
import json, sys, tracemalloc
import speccal.experiments, speccal.evaluation, scipy.ndimage, nibabel  # imports first

def high_water():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0

base = high_water()
tracemalloc.start()
speccal.experiments.score_predictions(sys.argv[1], sys.argv[2], sys.argv[3], progress=False)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"traced": peak, "rss_growth": high_water() - base}))
"""


def memory(preds, labels, out):
    """Peak memory of ``score_predictions`` in a fresh process (bytes)."""
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(preds), str(labels), str(out)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="4 volumes of 96 x 96 x 64")
    parser.add_argument("--volumes", type=int, default=None, help="cases (default 20, small 4)")
    parser.add_argument("--keep", type=Path, help="write the cases here and keep them")
    parser.add_argument(
        "--format", choices=("npz", "nii.gz"), default="npz", help="nnU-Net's or MONAI's files"
    )
    args = parser.parse_args()
    shape = (96, 96, 64) if args.small else (240, 240, 155)
    n_volumes = args.volumes or (4 if args.small else 20)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_score_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        preds, labels = write_cases(root, n_volumes, shape, fmt=args.format)
        one_volume = int(np.prod(shape)) * N_CLASSES * 4  # float32 probabilities
        sizes = sum(p.stat().st_size for p in preds.glob(f"*.{args.format}"))
        layout = "(C, Z, Y, X)" if args.format == "npz" else "(X, Y, Z, C)"
        print(
            f"{n_volumes} volumes {shape} x {N_CLASSES} classes, float32 {layout} in "
            f"compressed .{args.format}: {sizes / n_volumes / 2**20:.1f} MiB per file on disk, "
            f"{one_volume / 2**20:.1f} MiB per volume in memory "
            f"(written in {time.perf_counter() - start:.0f} s)"
        )
        read = read_all(preds, labels, args.format)
        one, metrics = score(preds, labels, root / "out1", jobs=1)
        print(f"read files alone        : {read:8.2f} s ({read / n_volumes:.2f} s per volume)")
        print(f"speccal score --jobs 1  : {one:8.2f} s ({one / n_volumes:.2f} s per volume)")
        print(f"  score / read          : {one / read:8.2f} x   (goal <= 3)")
        two, metrics_two = score(preds, labels, root / "out2", jobs=2)
        same = all(metrics_two[k] == metrics[k] for k in metrics if isinstance(metrics[k], float))
        print(f"speccal score --jobs 2  : {two:8.2f} s (same metrics: {same})")
        print(f"  jobs 1 / jobs 2       : {one / two:8.2f} x   (speed-up, {os.cpu_count()} cores)")
        peak = memory(preds, labels, root / "out3")
        print(f"peak memory (traced)    : {peak['traced'] / 2**20:8.1f} MiB")
        print(f"  traced / one volume   : {peak['traced'] / one_volume:8.2f} x   (goal <= 3)")
        print(f"max RSS growth          : {peak['rss_growth'] / 2**20:8.1f} MiB")
        print(f"  RSS growth / volume   : {peak['rss_growth'] / one_volume:8.2f} x")
        print(
            "metrics: "
            + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("ece", "sce", "tace", "dice", "hd95"))
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""HD95 + ASD on a BraTS-sized pair (240 x 240 x 155): speccal vs medpy, side by side.

Run: ``python benchmarks/bench_surface.py [--repeats 5] [--medpy-repeats 2]``.

The pair is a tumour-like blob (a lobulated ellipsoid of about 10^5 voxels, radius ~30 voxels)
and a perturbed copy of it (shifted by a few voxels, boundary reshaped by smooth noise); a
second pair adds a small false-positive island 60 voxels away, which widens the bounding box
speccal crops to. Each is scored at spacing (1, 1, 1) and (0.7, 0.7, 2.5) mm. Printed per
case: both libraries' HD95 and ASD (they must agree to 1e-6), the best-of-``repeats`` time of
``hausdorff_distance_95`` + ``average_surface_distance`` (two public calls, like medpy's
``hd95`` + ``assd``), of ``segmentation_scores`` (both metrics from one set of surfaces), of
medpy (best of ``medpy-repeats``: it takes seconds), and the speed-up ratios measured in
this run.
"""

import argparse
import importlib.util
import time

import numpy as np
from scipy import ndimage

from speccal.metrics import average_surface_distance, hausdorff_distance_95, segmentation_scores

SHAPE = (240, 240, 155)
SPACINGS = ((1.0, 1.0, 1.0), (0.7, 0.7, 2.5))


def tumour_pair(rng, island=False):
    """A lobulated blob and a shifted, reshaped copy (optionally with a far island)."""
    grid = np.indices(SHAPE, sparse=True)
    centre, radii = (120, 110, 75), (32.0, 27.0, 22.0)
    radius = np.sqrt(sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True)))
    box = tuple(
        slice(c - int(r) - 12, c + int(r) + 12) for c, r in zip(centre, radii, strict=True)
    )

    def lobes(scale):
        field = np.zeros(SHAPE)
        field[box] = ndimage.gaussian_filter(rng.standard_normal(field[box].shape), 4.0)
        return scale * field / field[box].std()

    true = radius + lobes(0.25) < 1.0
    shifted = np.roll(radius, (3, -2, 1), axis=(0, 1, 2))
    pred = shifted + lobes(0.25) + lobes(0.08) < 1.03
    if island:
        pred[185:192, 170:176, 70:75] = True
    return pred, true


def best_time(function, repeats, *args):
    """Smallest wall time of ``repeats`` calls of ``function(*args)``, and its value."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = function(*args)
        times.append(time.perf_counter() - start)
    return min(times), value


def speccal_pair(pred, true, spacing):
    return (
        hausdorff_distance_95(y_true=true, y_pred=pred, spacing=spacing),
        average_surface_distance(y_true=true, y_pred=pred, spacing=spacing),
    )


def speccal_scores(pred, true, spacing):
    scores = segmentation_scores(y_true=true, y_pred=pred, spacing=spacing)
    return scores["hd95"][0], scores["asd"][0]


def medpy_pair(pred, true, spacing):
    from medpy.metric.binary import assd, hd95

    return hd95(pred, true, voxelspacing=spacing), assd(pred, true, voxelspacing=spacing)


def main(repeats, medpy_repeats):
    if importlib.util.find_spec("medpy") is None:
        raise SystemExit("medpy is not installed: pip install medpy")
    if importlib.util.find_spec("monai") is None:
        print("MONAI is not installed: not measured.")
    rng = np.random.default_rng(0)
    print(f"volume {SHAPE}; times: best of {repeats} runs (speccal), {medpy_repeats} (medpy)")
    header = (
        f"{'pair':<16}{'spacing':<17}{'HD95 speccal':>13}{'HD95 medpy':>12}{'ASD speccal':>13}"
        f"{'ASD medpy':>11}{'speccal s':>11}{'scores s':>10}{'medpy s':>9}"
        f"{'ratio':>8}{'ratio scores':>14}"
    )
    print(header)
    ratios = []
    for name, island in (("blob + copy", False), ("blob + island", True)):
        pred, true = tumour_pair(rng, island)
        for spacing in SPACINGS:
            ours_time, (ours_hd, ours_asd) = best_time(speccal_pair, repeats, pred, true, spacing)
            scores_time, from_scores = best_time(
                speccal_scores, repeats, pred.astype(np.uint8), true.astype(np.uint8), spacing
            )
            medpy_time, (medpy_hd, medpy_asd) = best_time(
                medpy_pair, medpy_repeats, pred, true, spacing
            )
            same = (
                abs(ours_hd - medpy_hd) <= 1e-6
                and abs(ours_asd - medpy_asd) <= 1e-6
                and from_scores == (ours_hd, ours_asd)
            )
            if not same:
                raise SystemExit(f"values differ on {name}, spacing {spacing}")
            ratios.append(medpy_time / ours_time)
            print(
                f"{name:<16}{str(spacing):<17}{ours_hd:>13.6f}{medpy_hd:>12.6f}"
                f"{ours_asd:>13.6f}{medpy_asd:>11.6f}{ours_time:>11.3f}{scores_time:>10.3f}"
                f"{medpy_time:>9.2f}{medpy_time / ours_time:>7.1f}x"
                f"{medpy_time / scores_time:>13.1f}x"
            )
    print(f"values identical to 1e-6: yes; smallest speed-up vs medpy: {min(ratios):.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of speccal")
    parser.add_argument("--medpy-repeats", type=int, default=2, help="timed runs of medpy")
    args = parser.parse_args()
    main(args.repeats, args.medpy_repeats)

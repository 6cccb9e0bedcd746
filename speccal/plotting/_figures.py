"""The paper's spectral and comparison figures (Figs. 1, 2a, 3, 5, 6 and 8).

Every function draws on ``ax`` (a new pyplot figure when ``None``), returns the Axes it drew on
(an array of Axes for multi-panel figures) and accepts either plain arrays / mappings or the
:class:`~speccal.experiments.RunResult` objects that :func:`~speccal.experiments.load_run`
reads from ``speccal evaluate`` run directories. matplotlib is imported inside the functions.
"""

import warnings

import numpy as np

from speccal import analysis
from speccal._names import metric_label
from speccal.experiments._run_folder import RunResult
from speccal.plotting._base import (
    PAPER_METRICS,
    as_slice,
    metric_direction,
    metric_table,
    new_axes,
    new_axes_row,
    runs_by_name,
)

__all__ = [
    "CONFIDENCE_COLORS",
    "SEGMENTATION_COLORS",
    "confidence_colormap",
    "plot_boundary_experiment",
    "plot_confidence_map",
    "plot_hotspots",
    "plot_metric_distributions",
    "plot_power_spectra",
    "plot_radar",
    "plot_run_reliability",
    "plot_segmentation",
    "radar_scores",
]

#: Colours of Fig. 2a: blue for low confidence, orange for high confidence.
CONFIDENCE_COLORS = ("#2166ac", "#f7f7f7", "#f28e2b")

#: Colours of Fig. 2c by class: black background, green, purple, orange, then more.
SEGMENTATION_COLORS = (
    "#000000",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#1f77b4",
    "#d62728",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#8c564b",
)


def confidence_colormap():
    """The blue (low) to orange (high) colormap of the paper's figure 2a.

    Returns
    -------
    cmap : matplotlib.colors.LinearSegmentedColormap

    Examples
    --------
    >>> from matplotlib.colors import to_hex
    >>> from speccal.plotting import confidence_colormap
    >>> cmap = confidence_colormap()
    >>> to_hex(cmap(0.0)), to_hex(cmap(1.0))
    ('#2166ac', '#f28e2b')
    """
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("speccal_confidence", CONFIDENCE_COLORS)


# ------------------------------------------------------------------- Fig. 2a, Fig. 1b


def plot_confidence_map(
    confidence,
    *,
    image=None,
    label=None,
    slice_index=None,
    axis=-1,
    ax=None,
    vmin=None,
    vmax=None,
    title=None,
    colorbar=True,
):
    """Show a confidence map in the blue-to-orange colours of figure 2a.

    Parameters
    ----------
    confidence : array-like of shape (height, width) or (depth, height, width), or RunResult
        The confidence map; a 3D volume is cut at ``slice_index`` along ``axis``. A
        :class:`~speccal.experiments.RunResult` gives its ``example["confidence"]`` slice (and
        its image and label slices, and its method as the title).
    image : array-like, optional
        Grey-scale image drawn under the map (same shape as ``confidence``).
    label : array-like of int, optional
        Label map whose class boundaries are drawn as black contours.
    slice_index : int, optional
        Slice of a 3D volume; default the middle one.
    axis : int, default=-1
        Axis along which a 3D volume is sliced.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    vmin, vmax : float, optional
        Colour limits; default the data range.
    title : str, optional
        Axes title.
    colorbar : bool, default=True
        Add a colour bar.

    Returns
    -------
    ax : matplotlib.axes.Axes
        ``ax.images[-1]`` holds the confidence slice.

    Raises
    ------
    ValueError
        If a map is not 2D or 3D, or ``image`` / ``label`` differ in shape from it.

    Notes
    -----
    A slice of shape ``(n_x, n_y)`` is drawn with its first axis horizontal and the origin at
    the lower left (``imshow(slice.T, origin="lower")``), the usual view of an axial slice
    of an ``(X, Y, Z)`` volume.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.plotting import plot_confidence_map
    >>> ax = plot_confidence_map(np.random.default_rng(0).uniform(size=(8, 8)))
    """
    if isinstance(confidence, RunResult):
        example = confidence.example
        image = example.get("image") if image is None else image
        label = example.get("label") if label is None else label
        title = confidence.method if title is None else title
        confidence = example["confidence"]
    conf = as_slice(confidence, "confidence", slice_index, axis)
    ax = new_axes(ax)
    if image is not None:
        img = as_slice(image, "image", slice_index, axis)
        if img.shape != conf.shape:
            raise ValueError(
                f"`image` must have the shape of `confidence` {conf.shape!r}; got {img.shape!r}."
            )
        ax.imshow(img.T, cmap="gray", origin="lower")
    artist = ax.imshow(
        conf.T,
        cmap=confidence_colormap(),
        vmin=vmin,
        vmax=vmax,
        origin="lower",
        alpha=0.7 if image is not None else None,
    )
    if label is not None:
        lab = as_slice(label, "label", slice_index, axis)
        if lab.shape != conf.shape:
            raise ValueError(
                f"`label` must have the shape of `confidence` {conf.shape!r}; got {lab.shape!r}."
            )
        levels = np.arange(lab.max()) + 0.5 if lab.max() > 0 else None
        if levels is not None:
            ax.contour(lab.T, levels=levels, colors="k", linewidths=0.8, origin="lower")
    if colorbar:
        ax.figure.colorbar(artist, ax=ax, fraction=0.046, pad=0.04, label="confidence")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def plot_segmentation(segmentation, *, slice_index=None, axis=-1, ax=None, title=None):
    """Show a label map in the colours of figure 2c.

    Parameters
    ----------
    segmentation : array-like of int, shape (height, width) or (depth, height, width), or RunResult
        Class labels; a 3D volume is cut at ``slice_index`` along ``axis``. A
        :class:`~speccal.experiments.RunResult` shows its prediction, the arg-max of
        ``example["probability"]`` (titled with its method).
    slice_index : int, optional
        Slice of a 3D volume; default the middle one.
    axis : int, default=-1
        Axis along which a 3D volume is sliced.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Axes title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        ``ax.images[0]`` holds the label slice.

    Raises
    ------
    ValueError
        If labels are negative, not integers, or there are more classes than
        ``SEGMENTATION_COLORS``.

    Notes
    -----
    Class ``k`` is drawn in ``SEGMENTATION_COLORS[k]``: black background, then green,
    purple and orange (BraTS: edema, necrosis, enhancing tumour), then further colours.
    The slice is drawn like :func:`plot_confidence_map`'s.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.plotting import plot_segmentation
    >>> ax = plot_segmentation(np.random.default_rng(0).integers(0, 4, size=(8, 8)))
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    if isinstance(segmentation, RunResult):
        title = segmentation.method if title is None else title
        segmentation = np.asarray(segmentation.example["probability"]).argmax(-1)
    labels = as_slice(segmentation, "segmentation", slice_index, axis)
    n = len(SEGMENTATION_COLORS)
    if (labels < 0).any() or (labels >= n).any() or (labels % 1 != 0).any():
        raise ValueError(
            f"`segmentation` must hold integer labels in [0, {n}); got values in "
            f"[{labels.min()!r}, {labels.max()!r}]."
        )
    ax = new_axes(ax)
    cmap = ListedColormap(SEGMENTATION_COLORS, name="speccal_segmentation")
    norm = BoundaryNorm(np.arange(n + 1) - 0.5, n)
    ax.imshow(labels.T, cmap=cmap, norm=norm, origin="lower", interpolation="nearest")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def plot_run_reliability(run, *, ax=None, **kwargs):
    """Reliability diagram of an evaluated run's ``reliability.npz`` (figure 2b).

    Parameters
    ----------
    run : RunResult
        A run from :func:`~speccal.experiments.load_run`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    **kwargs
        Passed to :meth:`ReliabilityDisplay.plot <speccal.plotting.ReliabilityDisplay.plot>`
        (e.g. ``kind="line"`` to overlay several runs on one axes).

    Returns
    -------
    display : ReliabilityDisplay
        Labelled with the run's method and its pooled ECE (``ece_pooled`` in
        ``metrics.json`` when present, the pooled statistic the bins come from; else
        ``ece``).

    Raises
    ------
    TypeError
        If ``run`` is not a RunResult.

    Examples
    --------
    >>> from speccal.experiments import load_run
    >>> from speccal.plotting import plot_run_reliability
    >>> display = plot_run_reliability(load_run("runs/ce"))  # doctest: +SKIP
    """
    from speccal.plotting._reliability import ReliabilityDisplay

    if not isinstance(run, RunResult):
        raise TypeError(f"`run` must be a RunResult; got {type(run).__name__}.")
    bins = run.reliability
    score = run.metric("ece_pooled" if "ece_pooled" in run.metrics else "ece")
    display = ReliabilityDisplay(
        bin_count=bins["bin_count"],
        bin_confidence=bins["bin_confidence"],
        bin_accuracy=bins["bin_accuracy"],
        score=score,
        label=run.method,
    )
    return display.plot(ax=ax, **kwargs)


def plot_boundary_experiment(result=None, *, ax=None, **experiment_params):
    """Figure 1: the synthetic boundary-confidence maps and their power spectra.

    Parameters
    ----------
    result : BoundaryExperimentResult, optional
        From :func:`speccal.analysis.boundary_confidence_experiment`; computed with
        ``experiment_params`` when ``None``.
    ax : sequence of matplotlib.axes.Axes, optional
        ``n_alphas + 1`` Axes: one map per α (Fig. 1b), then the spectra (Fig. 1c). The
        maps share one colour scale, shown by a colour bar beside the last map.
    **experiment_params
        Passed to :func:`~speccal.analysis.boundary_confidence_experiment`.

    Returns
    -------
    axes : ndarray of matplotlib.axes.Axes, shape (n_alphas + 1,)

    Raises
    ------
    ValueError
        If ``ax`` does not hold ``n_alphas + 1`` Axes.

    Examples
    --------
    >>> from speccal.plotting import plot_boundary_experiment
    >>> axes = plot_boundary_experiment(alphas=(1.0, 0.5), size=32)
    """
    if result is None:
        result = analysis.boundary_confidence_experiment(**experiment_params)
    n = len(result.alphas)
    axes = new_axes_row(ax, n + 1, "ax")
    for a, m, panel in zip(result.alphas, result.maps, axes[:n], strict=True):
        middle = m if m.ndim == 2 else m[m.shape[0] // 2]
        plot_confidence_map(middle, ax=panel, vmin=0.0, vmax=1.0, colorbar=False)
        panel.set_title(f"α = {a:g}")
    # every map has the scale [0, 1]: one colour bar, in an inset beside the last map, which
    # keeps the size of the other maps (a colour bar's own Axes would shrink the last one)
    last = axes[n - 1]
    last.figure.colorbar(
        last.images[-1], cax=last.inset_axes([1.06, 0.0, 0.06, 1.0]), label="confidence"
    )
    spectra = {
        f"α = {a:g}": (result.frequencies, p)
        for a, p in zip(result.alphas, result.spectra, strict=True)
    }
    plot_power_spectra(spectra, ax=axes[n])
    return axes


# ------------------------------------------------------------------------------ Fig. 3


def plot_power_spectra(spectra, *, ax=None, xscale="linear", yscale="log"):
    """Radial power spectra of several methods on one axes (figure 3).

    Parameters
    ----------
    spectra : mapping or sequence of RunResult
        ``{label: (frequencies, power)}``, ``{label: RunResult}`` or runs (labelled by
        method), whose ``spectrum.npz`` is drawn.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    xscale, yscale : str, default "linear" and "log"
        Axis scales (``"linear"``, ``"log"``, ``"symlog"``, ...).

    Returns
    -------
    ax : matplotlib.axes.Axes
        One line per method, in the order given; past the colour cycle's length the lines
        are dashed, then dotted, then dash-dotted.

    Raises
    ------
    ValueError
        If ``xscale`` or ``yscale`` is not a matplotlib scale, frequencies and power differ
        in length, are not finite, or a power is not positive on a log scale.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.analysis import radial_power_spectrum
    >>> from speccal.plotting import plot_power_spectra
    >>> x = np.random.default_rng(0).normal(size=(32, 32))
    >>> ax = plot_power_spectra({"noise": radial_power_spectrum(x)})
    """
    from matplotlib.scale import get_scale_names

    for name, scale in (("xscale", xscale), ("yscale", yscale)):
        if scale not in get_scale_names():
            raise ValueError(f"`{name}` must be one of {get_scale_names()}; got {scale!r}.")
    import matplotlib as mpl

    ax = new_axes(ax)
    # past the colour cycle (10 colours by default) the line style changes: no two lines alike
    n_colours = len(mpl.rcParams["axes.prop_cycle"].by_key().get("color", ())) or 1
    for i, (name, item) in enumerate(runs_by_name(spectra, "spectra").items()):
        if isinstance(item, RunResult):
            item = (item.spectrum["frequencies"], item.spectrum["power"])
        freqs, power = (np.asarray(v, dtype=np.float64) for v in item)
        if freqs.ndim != 1 or freqs.shape != power.shape:
            raise ValueError(
                f"`spectra[{name!r}]` must be (frequencies, power) of one length; got shapes "
                f"{freqs.shape!r} and {power.shape!r}."
            )
        if not (np.isfinite(freqs).all() and np.isfinite(power).all()):
            raise ValueError(f"`spectra[{name!r}]` must be finite.")
        if yscale == "log" and (power <= 0).any():
            raise ValueError(
                f"`spectra[{name!r}]` power must be positive on a log scale; got minimum "
                f"{float(power.min())!r}."
            )
        linestyle = ("-", "--", ":", "-.")[i // n_colours % 4]
        ax.plot(freqs, power, label=str(name), linestyle=linestyle)
    ax.set_xscale(xscale)
    ax.set_yscale(yscale)
    ax.set_xlabel("spatial frequency (cycles / voxel)")
    ax.set_ylabel("power spectral density")
    ax.legend()
    return ax


# ------------------------------------------------------------------------------ Fig. 5


def radar_scores(results, metrics=PAPER_METRICS, *, higher_is_better=None, floor=0.2):
    """Per-metric scores in [floor, 1], oriented so that larger is better (figure 5).

    Parameters
    ----------
    results : mapping or sequence of RunResult
        ``{method: {metric: value}}``, ``{method: RunResult}`` or runs of one dataset.
        Per-class lists are averaged.
    metrics : sequence of str, default=("dice", "hd95", "asd", "ece", "sce", "tace")
        The radar's axes.
    higher_is_better : mapping of str to bool, optional
        Direction of metrics beyond the known ones (see ``HIGHER_IS_BETTER``).
    floor : float, default=0.2
        Score of the worst method on each axis, so that no polygon collapses to a point.

    Returns
    -------
    methods : list of str
    scores : ndarray of shape (n_methods, n_metrics)

    Raises
    ------
    ValueError
        If a value is missing or NaN, a metric's direction is unknown, or ``floor`` is
        outside [0, 1).

    Notes
    -----
    For a metric where larger is better (DSC) with values :math:`v_m` over methods :math:`m`,

    .. math:: s_m = f + (1 - f)\\,\\frac{v_m - \\min v}{\\max v - \\min v},

    and for a metric where smaller is better (HD95, ASD, ECE, SCE, TACE) the fraction is
    :math:`(\\max v - v_m) / (\\max v - \\min v)`: the best method reaches 1, the worst
    :math:`f`. A metric on which all methods tie scores 1 for all. Infinite values (e.g. the
    HD95 of an empty prediction) score :math:`f`; the finite values are normalised among
    themselves.

    Examples
    --------
    >>> from speccal.plotting import radar_scores
    >>> methods, s = radar_scores({"ce": {"dice": 0.8, "ece": 0.02},
    ...                            "ours": {"dice": 0.9, "ece": 0.01}}, ("dice", "ece"))
    >>> s.round(2).tolist()
    [[0.2, 0.2], [1.0, 1.0]]
    """
    if not 0 <= floor < 1:
        raise ValueError(f"`floor` must be in [0, 1); got {floor!r}.")
    metrics = tuple(metrics)
    methods, values = metric_table(results, metrics)
    scores = np.ones_like(values)
    for j, metric in enumerate(metrics):
        v = values[:, j] if metric_direction(metric, higher_is_better) else -values[:, j]
        finite = np.isfinite(v)
        scores[~finite, j] = floor
        if finite.any() and np.ptp(v[finite]) > 0:
            low = v[finite].min()
            scores[finite, j] = floor + (1 - floor) * (v[finite] - low) / np.ptp(v[finite])
    return methods, scores


def plot_radar(results, metrics=PAPER_METRICS, *, ax=None, higher_is_better=None, floor=0.2):
    """Radar chart of segmentation and calibration metrics, larger is better (figure 5).

    Parameters
    ----------
    results : mapping or sequence of RunResult
        As for :func:`radar_scores`.
    metrics : sequence of str, default=("dice", "hd95", "asd", "ece", "sce", "tace")
        The radar's axes, in clockwise order from the top.
    ax : matplotlib.projections.polar.PolarAxes, optional
        A polar Axes; a new one when ``None``.
    higher_is_better : mapping of str to bool, optional
        Direction of metrics beyond the known ones.
    floor : float, default=0.2
        Radius of the worst method on each axis.

    Returns
    -------
    ax : matplotlib.projections.polar.PolarAxes
        One closed polygon line per method (radii from :func:`radar_scores`).

    Raises
    ------
    ValueError
        If ``ax`` is not polar, or as :func:`radar_scores`.

    Notes
    -----
    Lower-is-better metrics are inverted and every axis is min-max normalised across the
    methods shown (see :func:`radar_scores`), so a larger, more regular polygon is a better
    method. Axis labels mark inverted metrics with "↓".

    Examples
    --------
    >>> from speccal.plotting import plot_radar
    >>> ax = plot_radar({"ce": {"dice": 0.8, "ece": 0.02, "hd95": 9.0},
    ...                  "ours": {"dice": 0.9, "ece": 0.01, "hd95": 7.0}},
    ...                 ("dice", "ece", "hd95"))
    """
    if ax is not None and getattr(ax, "name", None) != "polar":
        raise ValueError(f"`ax` must be a polar Axes; got a {getattr(ax, 'name', ax)!r} Axes.")
    methods, scores = radar_scores(
        results, metrics, higher_is_better=higher_is_better, floor=floor
    )
    ax = new_axes(ax, polar=True)
    angles = np.linspace(0, 2 * np.pi, len(scores[0]), endpoint=False)
    closed = np.append(angles, angles[0])
    for method, s in zip(methods, scores, strict=True):
        (line,) = ax.plot(closed, np.append(s, s[0]), label=str(method))
        ax.fill(closed, np.append(s, s[0]), color=line.get_color(), alpha=0.1)
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_xticks(angles)
    ax.set_xticklabels(
        [
            metric_label(m) + ("" if metric_direction(m, higher_is_better) else " ↓")
            for m in metrics
        ]
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel(f"normalised score (best = 1, worst = {floor:g})", labelpad=24)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1))
    return ax


# ------------------------------------------------------------------------------ Fig. 6


def _finite_values(name, values):
    v = np.asarray(values, dtype=np.float64).ravel()
    keep = np.isfinite(v)
    if not keep.all():
        warnings.warn(
            f"{name}: dropped {int((~keep).sum())} non-finite values of {v.size}.",
            UserWarning,
            stacklevel=3,
        )
    if not keep.any():
        raise ValueError(f"`values[{name!r}]` must hold at least one finite value.")
    return v[keep]


#: Fewer values than this per method are drawn as points by ``plot_metric_distributions``.
MIN_DENSITY_VOLUMES = 5


def plot_metric_distributions(values, metric="dice", *, ax=None, kind="auto", bins=10):
    """Per-volume distributions of one metric for several methods (figure 6).

    Parameters
    ----------
    values : mapping or sequence of RunResult
        ``{method: per-volume values}``, ``{method: RunResult}`` or runs, whose
        ``per_volume.csv`` column ``metric`` is used.
    metric : str, default="dice"
        The metric (axis label, and the column read from runs).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    kind : {"auto", "kde", "hist", "points"}, default="auto"
        Gaussian kernel density estimate (:class:`scipy.stats.gaussian_kde`, Scott's rule),
        density histogram, or every value as a point (one row per method). ``"auto"`` draws
        points when a method has fewer than ``MIN_DENSITY_VOLUMES`` (5) values, where a
        density says nothing, a kernel density estimate when every method has two distinct
        values, and a histogram otherwise.
    bins : int, default=10
        Histogram bins, shared by all methods.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Per method a density curve, step histogram or row of points, and a dashed vertical
        line at its mean.

    Raises
    ------
    ValueError
        If ``kind`` is unknown, a method has no finite value, or ``kind="kde"`` and a method
        has fewer than two distinct values.

    Warns
    -----
    UserWarning
        When non-finite values (e.g. an infinite HD95) are dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.plotting import plot_metric_distributions
    >>> rng = np.random.default_rng(0)
    >>> ax = plot_metric_distributions({"ce": rng.normal(0.8, 0.05, 20),
    ...                                 "ours": rng.normal(0.85, 0.02, 20)}, "dice")
    """
    if kind not in ("auto", "kde", "hist", "points"):
        raise ValueError(f"`kind` must be one of ('auto', 'kde', 'hist', 'points'); got {kind!r}.")
    data = {}
    for name, item in runs_by_name(values, "values").items():
        raw = item.per_volume_values(metric) if isinstance(item, RunResult) else item
        data[name] = _finite_values(name, raw)
    smooth = {name: np.unique(v).size >= 2 for name, v in data.items()}
    if kind == "kde" and not all(smooth.values()):
        bad = [name for name, ok in smooth.items() if not ok]
        raise ValueError(
            f"`kind='kde'` needs two distinct values per method; got fewer for {bad}."
        )
    few = min(v.size for v in data.values()) < MIN_DENSITY_VOLUMES
    if kind == "auto":
        kind = "points" if few else "kde" if all(smooth.values()) else "hist"
    ax = new_axes(ax)
    if kind == "points":
        for row, (name, v) in enumerate(data.items()):
            (line,) = ax.plot(v, np.full(v.size, row), "o", alpha=0.7, label=str(name))
            ax.plot([v.mean()] * 2, [row - 0.3, row + 0.3], color=line.get_color(), ls="--")
        ax.set_yticks(range(len(data)), [str(name) for name in data])
        ax.set_ylim(-0.6, len(data) - 0.4)
        ax.set_xlabel(metric_label(metric))
        ax.set_ylabel("method (one point per volume, dashed: mean)")
        return ax
    use_kde = kind == "kde"
    every = np.concatenate(list(data.values()))
    pad = 0.1 * (np.ptp(every) or 1.0)
    grid = np.linspace(every.min() - pad, every.max() + pad, 200)
    edges = np.histogram_bin_edges(every, bins=bins)
    from scipy.stats import gaussian_kde

    for name, v in data.items():
        if use_kde:
            (line,) = ax.plot(grid, gaussian_kde(v)(grid), label=str(name))
            color = line.get_color()
        else:
            *_, patches = ax.hist(v, bins=edges, density=True, histtype="step", label=str(name))
            color = patches[0].get_edgecolor()
        ax.axvline(v.mean(), color=color, linestyle="--", linewidth=1)
    ax.set_xlabel(metric_label(metric))
    ax.set_ylabel("density")
    ax.legend()
    return ax


# ------------------------------------------------------------------------------ Fig. 8


def plot_hotspots(
    baseline, ours=None, *, bands=5, high_band=None, slice_index=None, axis=-1, ax=None
):
    """High-frequency hotspots of a baseline's map and what a better model removes (figure 8).

    Parameters
    ----------
    baseline : array-like of shape (height, width) or (depth, height, width), or RunResult
        The baseline's logit (or confidence) map; a run gives ``example["confidence"]``.
        A 3D volume is cut at ``slice_index`` along ``axis`` and analysed as that slice.
    ours : array-like or RunResult, optional
        The improved model's map of the same case, for panel (c).
    bands : int, default=5
        Number of radial bands.
    high_band : int, optional
        First band kept as high frequency; default ``bands // 2``.
    slice_index : int, optional
        Slice of 3D volumes; default the middle one.
    axis : int, default=-1
        Slicing axis.
    ax : sequence of matplotlib.axes.Axes, optional
        Two Axes (three with ``ours``); a new figure when ``None``.

    Returns
    -------
    axes : ndarray of matplotlib.axes.Axes
        (a) ``log10(1 + high_pass_spectrum)`` of the baseline, centred; (b) its high-pass
        reconstruction (:func:`speccal.analysis.high_pass_reconstruction`); (c) the confidence
        difference ``baseline - ours``, red where the baseline was more confident.

    Raises
    ------
    ValueError
        If the maps differ in shape or ``ax`` has the wrong number of Axes.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.plotting import plot_hotspots
    >>> rng = np.random.default_rng(0)
    >>> axes = plot_hotspots(rng.normal(size=(16, 16)), rng.normal(size=(16, 16)))
    """
    maps = []
    for name, item in (("baseline", baseline), ("ours", ours)):
        if item is None:
            continue
        if isinstance(item, RunResult):
            item = item.example["confidence"]
        maps.append(as_slice(item, name, slice_index, axis))
    axes = new_axes_row(ax, len(maps) + 1, "ax")
    spectrum = analysis.high_pass_spectrum(maps[0], bands=bands, high_band=high_band)
    recon = analysis.high_pass_reconstruction(maps[0], bands=bands, high_band=high_band)
    panels = [
        (np.log10(1.0 + spectrum), "magma", None, "(a) high-frequency power", "log10(1 + power)"),
        (recon, "inferno", None, "(b) high-pass reconstruction", "high-pass part of the map"),
    ]
    if len(maps) == 2:
        diff = analysis.confidence_difference(maps[0], maps[1])
        limit = float(np.abs(diff).max()) or 1.0
        panels.append(
            (diff, "RdBu_r", (-limit, limit), "(c) baseline − ours", "confidence difference")
        )
    for panel, (data, cmap, lim, title, quantity) in zip(axes, panels, strict=True):
        vmin, vmax = lim if lim else (None, None)
        artist = panel.imshow(data.T, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower")
        panel.figure.colorbar(artist, ax=panel, fraction=0.046, pad=0.04, label=quantity)
        panel.set_title(title)
        panel.set_axis_off()
    return axes

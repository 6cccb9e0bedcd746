"""Reliability diagrams in scikit-learn's Display style (matplotlib imported lazily).

numpy only at import time; never imports TensorFlow.
"""

import numpy as np

from speccal.metrics._binning import per_bin
from speccal.plotting._base import new_axes_row

__all__ = ["ReliabilityDisplay"]


#: Colour of the gap bars (an opaque light red: the same over a bar and over the background).
GAP_COLOR = "#f4b6b6"


def legend_below(ax):
    """The legend of a reliability diagram, below the axes: inside, it would hide bars or the
    histogram wherever it sat."""
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize="small", frameon=False
    )


class ReliabilityDisplay:
    """Reliability diagram: per-bin accuracy against confidence, gaps and a confidence histogram.

    Build it with :meth:`from_predictions` or :meth:`from_evaluator` (which also plot), or
    from bin arrays directly and then call :meth:`plot`. Several methods overlay on one axes by
    passing the same ``ax`` with ``kind="line"`` (the paper's Fig. 2b), or with
    :meth:`overlay`.

    Parameters
    ----------
    bin_count, bin_confidence, bin_accuracy : array-like of shape (n_bins,) or \
(n_classes, n_bins)
        Samples, mean confidence and accuracy per equal-width bin (NaN for empty bins); 2-D
        arrays give one diagram per class (one-vs-rest bins of ``p_k`` against ``1[y = k]``).
    score : float or None, default=None
        Calibration error shown in the legend.
    score_name : str, default="ECE"
    label : str or None, default=None
        Name of the method, shown in the legend.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The (first) axes drawn on.
    axes_ : ndarray of Axes
        All axes (one per class for per-class diagrams).
    figure_ : matplotlib Figure
    bars_ : list of BarContainer
        Accuracy bars (``kind="bars"``), one per axes.
    gap_bars_ : list of BarContainer
        Bars from accuracy to confidence (the calibration gap), one per axes.
    curve_ : list of Line2D
        Accuracy-vs-confidence curves (``kind="line"``), one per axes.
    hist_ax_ : list of Axes
        Twin axes holding the confidence histograms.
    hist_bars_ : list of BarContainer
        Fraction of samples per bin.

    Raises
    ------
    ValueError
        If the three bin arrays do not have the same 1-D or 2-D shape.

    See Also
    --------
    speccal.evaluation.CalibrationEvaluator : computes the bins in a streaming pass.

    Notes
    -----
    Bin b spans ``[b/M, (b+1)/M)``; its bar has height :math:`\\bar a_b` and its gap bar spans
    :math:`[\\bar a_b, \\bar c_b]`; the histogram shows :math:`n_b / N`.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.plotting import ReliabilityDisplay
    >>> y_prob = np.array([[0.8, 0.2], [0.8, 0.2], [0.3, 0.7]])
    >>> display = ReliabilityDisplay.from_predictions(np.array([0, 1, 1]), y_prob, n_bins=5)
    >>> [round(float(h.get_height()), 3) for h in display.bars_[0]][3:]
    [1.0, 0.5]
    """

    def __init__(
        self, *, bin_count, bin_confidence, bin_accuracy, score=None, score_name="ECE", label=None
    ):
        self.bin_count = np.asarray(bin_count, dtype=np.float64)
        self.bin_confidence = np.asarray(bin_confidence, dtype=np.float64)
        self.bin_accuracy = np.asarray(bin_accuracy, dtype=np.float64)
        shapes = {a.shape for a in (self.bin_count, self.bin_confidence, self.bin_accuracy)}
        if len(shapes) != 1 or self.bin_count.ndim not in (1, 2):
            raise ValueError(
                "`bin_count`, `bin_confidence` and `bin_accuracy` must share one shape "
                f"(n_bins,) or (n_classes, n_bins); got {sorted(shapes)!r}."
            )
        self.score = score
        self.score_name = score_name
        self.label = label

    @classmethod
    def from_predictions(
        cls, y_true, y_prob, *, n_bins=15, per_class=False, label=None, ax=None, **kwargs
    ):
        """Compute the bins of predictions and plot them.

        Parameters
        ----------
        y_true : array-like of int of shape (...)
        y_prob : array-like of float of shape (..., n_classes)
        n_bins : int, default=15
        per_class : bool, default=False
            One diagram per class (one-vs-rest) instead of the top-label diagram.
        label : str or None, default=None
        ax : Axes or sequence of Axes or None, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        ReliabilityDisplay

        Raises
        ------
        ValueError
            For invalid input (see :func:`speccal.metrics.expected_calibration_error`).
        """
        from speccal.metrics._calibration import accumulate

        state = accumulate(y_true, y_prob, n_bins=n_bins, top=not per_class, classwise=per_class)
        if per_class:
            sums, score, name = state.classwise_state(), state.sce(), "SCE"
        else:
            sums, score, name = state.top, state.ece(), "ECE"
        count, confidence, accuracy = per_bin(sums, n_bins)
        display = cls(
            bin_count=count,
            bin_confidence=confidence,
            bin_accuracy=accuracy,
            score=score,
            score_name=name,
            label=label,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_evaluator(cls, evaluator, *, per_class=False, label=None, ax=None, **kwargs):
        """Plot the bins of a fitted calibration evaluator.

        Parameters
        ----------
        evaluator : CalibrationEvaluator
            Fitted; ``per_class=True`` needs "sce" among its metrics. With the "nixon"
            protocol's extra bin for 1.0, that bin is drawn within the last bin.
        per_class : bool, default=False
        label : str or None, default=None
        ax : Axes or sequence of Axes or None, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        ReliabilityDisplay

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the evaluator is not fitted.
        ValueError
            If ``per_class=True`` and the evaluator kept no class-wise bins.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(evaluator, "bin_count_")
        prefix = "class_bin_" if per_class else "bin_"
        if not hasattr(evaluator, prefix + "count_"):
            raise ValueError(
                "`evaluator` must have computed 'sce' for per-class diagrams; got metrics "
                f"{evaluator._metric_names()!r}."
            )
        scores = evaluator.scores_
        name = "sce" if per_class else "ece"
        bins = [
            getattr(evaluator, prefix + part) for part in ("count_", "confidence_", "accuracy_")
        ]
        if evaluator.protocol_.bin_rule == "left-extra":  # draw 1.0 within the last bin
            count, confidence, accuracy = bins
            sums = [count, np.nan_to_num(confidence * count), np.nan_to_num(accuracy * count)]
            sums = [
                np.concatenate([s[..., :-2], s[..., -2:].sum(-1, keepdims=True)], -1) for s in sums
            ]
            bins = per_bin(np.stack(sums), count.shape[-1] - 1)
        display = cls(
            bin_count=bins[0],
            bin_confidence=bins[1],
            bin_accuracy=bins[2],
            score=scores.get(name),
            score_name=name.upper(),
            label=label,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def overlay(cls, displays, *, ax=None, **kwargs):
        """Draw several displays as curves on one axes (one method each).

        Parameters
        ----------
        displays : sequence of ReliabilityDisplay
            Top-label displays (1-D bins).
        ax : Axes or None, default=None
        **kwargs
            Passed to every :meth:`plot` (``kind`` defaults to "line", ``histogram`` to False).

        Returns
        -------
        list of ReliabilityDisplay

        Raises
        ------
        ValueError
            If ``displays`` is empty.
        """
        displays = list(displays)
        if not displays:
            raise ValueError("`displays` must hold at least one display; got none.")
        kwargs = {"kind": "line", "histogram": False, **kwargs}
        for display in displays:
            display.plot(ax=ax, **kwargs)
            ax = display.ax_
        return displays

    def plot(self, ax=None, *, kind="bars", gaps=True, histogram=True, **kwargs):
        """Draw the diagram.

        Parameters
        ----------
        ax : Axes or sequence of Axes or None, default=None
            Where to draw (one Axes per class for per-class bins); None makes a new figure.
        kind : {"bars", "line"}, default="bars"
            Accuracy as bars, or as a curve through the non-empty bins (for overlays).
        gaps : bool, default=True
            Draw the gap bars from accuracy to confidence (``kind="bars"`` only).
        histogram : bool, default=True
            Draw the fraction of samples per bin on a twin y-axis.
        **kwargs
            Passed to ``Axes.bar`` (bars) or ``Axes.plot`` (line).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``kind`` is unknown or ``ax`` does not hold one Axes per diagram.
        """
        if kind not in ("bars", "line"):
            raise ValueError(f"`kind` must be 'bars' or 'line'; got {kind!r}.")
        count = np.atleast_2d(self.bin_count)
        confidence = np.atleast_2d(self.bin_confidence)
        accuracy = np.atleast_2d(self.bin_accuracy)
        axes = new_axes_row(ax, count.shape[0], "ax", size=4)
        self.bars_, self.gap_bars_, self.curve_, self.hist_ax_, self.hist_bars_ = (
            [],
            [],
            [],
            [],
            [],
        )
        per_class = count.shape[0] > 1
        for i, axis in enumerate(axes):
            # One-vs-rest panels plot the frequency of class i against p_i; the score (SCE, a
            # mean over the classes) belongs to no one panel, so only the first one shows it.
            legend = self._legend(score=not per_class or i == 0)
            self._draw(
                axis, count[i], confidence[i], accuracy[i], kind, gaps, histogram, legend, kwargs
            )
            if per_class:
                axis.set_title(f"class {i}")
                axis.set(
                    xlabel=f"predicted probability of class {i}",
                    ylabel=f"observed frequency of class {i}",
                )
        self.axes_, self.ax_, self.figure_ = axes, axes[0], axes[0].figure
        return self

    def _draw(self, ax, count, confidence, accuracy, kind, gaps, histogram, legend, kwargs):
        n_bins = count.shape[0]
        width = 1.0 / n_bins
        centers = (np.arange(n_bins) + 0.5) * width
        filled = count > 0
        if not any(line.get_label() == "perfect calibration" for line in ax.get_lines()):
            ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
        if kind == "bars":
            bars = ax.bar(
                centers,
                np.where(filled, accuracy, 0.0),
                width=width,
                edgecolor="black",
                label=legend or "accuracy",
                **kwargs,
            )
            self.bars_.append(bars)
            if gaps:
                self.gap_bars_.append(
                    ax.bar(
                        centers,
                        np.where(filled, confidence - accuracy, 0.0),
                        bottom=np.where(filled, accuracy, 0.0),
                        width=width,
                        # opaque: a translucent red over the accuracy bar (where accuracy
                        # exceeds confidence) would not be the colour the legend shows
                        color=GAP_COLOR,
                        edgecolor="tab:red",
                        hatch="//",
                        label="gap",
                    )
                )
        else:
            (curve,) = ax.plot(
                confidence[filled], accuracy[filled], marker="o", label=legend, **kwargs
            )
            self.curve_.append(curve)
        if histogram:
            twin = ax.twinx()
            self.hist_bars_.append(
                twin.bar(
                    centers, count / max(count.sum(), 1), width=width, color="grey", alpha=0.3
                )
            )
            twin.set_ylabel("fraction of samples")
            twin.set_ylim(0, 1)
            self.hist_ax_.append(twin)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy")
        legend_below(ax)

    def _legend(self, score=True):
        parts = [self.label] if self.label else []
        if score and self.score is not None:
            name = self.score_name
            if np.atleast_2d(self.bin_count).shape[0] > 1:
                name += " (mean over classes)"
            parts.append(f"{name} = {self.score:.4f}")
        return ", ".join(parts) or None

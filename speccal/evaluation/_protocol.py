"""The calibration evaluation protocol: which voxels count, how volumes are aggregated, bins.

numpy only; this module never imports TensorFlow.
"""

from dataclasses import dataclass, replace

import numpy as np

from speccal._utils import check_bool, check_option, check_scalar
from speccal.metrics._binning import BIN_RULES

__all__ = ["PROTOCOL_PRESETS", "EvaluationProtocol"]

_VOXELS = ("all", "foreground", "mask")
_AGGREGATIONS = ("pooled", "per_volume")
_VOLUME_WEIGHTS = ("uniform", "count")


@dataclass(frozen=True)
class EvaluationProtocol:
    """How a calibration number is computed on segmentation volumes, stated explicitly.

    Published segmentation ECE/SCE/TACE values differ mostly by these choices; a results table
    should print :meth:`describe` of the protocol it used.

    Parameters
    ----------
    voxels : {"all", "foreground", "mask"}, default="all"
        Voxels counted: all, ground-truth foreground only (``y_true != 0``), or those where the
        boolean ``mask`` passed to ``fit``/``partial_fit`` is True.
    ignore_class : int or None, default=None
        Voxels with this label are dropped first (it may lie outside [0, n_classes)).
    aggregation : {"pooled", "per_volume"}, default="pooled"
        ``"pooled"``: all selected voxels of all volumes form one set (bin sums add up);
        ``"per_volume"``: one value per volume, then a mean over volumes.
    volume_weights : {"uniform", "count"}, default="uniform"
        Mean over volumes with equal weights, or weighted by each volume's selected voxel count
        (only used with ``aggregation="per_volume"``).
    include_background : bool, default=True
        Whether class 0 enters the class average of SCE, ACE and TACE.
    bin_rule : {"left", "left-extra", "right", "right-nonzero"}, default="left"
        Equal-width bin assignment: speccal's ``[b/M, (b+1)/M)`` with 1.0 in the last bin;
        uncertainty-metrics' with 1.0 in an extra bin; MONAI's right-closed float32 edges;
        Guo et al.'s right-closed bins where 0.0 falls in no bin.
    name : str, default="custom"
        Label used by :meth:`describe`.

    Raises
    ------
    ValueError
        From :meth:`validate` (called by the evaluators' ``fit``) for a value out of range.

    See Also
    --------
    PROTOCOL_PRESETS : the named presets; :meth:`preset` builds one.

    Notes
    -----
    Presets (``EvaluationProtocol.preset(name)``):

    - ``"speccal"``: speccal's defaults: all voxels, pooled, background in, left-closed bins.
    - ``"nixon"``: Nixon et al. 2019 / uncertainty-metrics ``GeneralCalibrationError``: all
      samples pooled; equal-width bins from ``numpy.digitize`` on the upper edges, so a
      confidence of exactly 1.0 lands in an extra bin M (weights ``n_b / N``). Its TACE/ACE
      are speccal's. (Its code's "SCE" pools all classes into one binning; speccal's SCE is
      the paper's per-class average.)
    - ``"mbls"``: the segmentation evaluator of the MbLS code (also used by NACL/CRaC):
      ground-truth foreground voxels only, one value per volume (one ``partial_fit`` call),
      mean weighted by each volume's foreground count, Guo et al.'s ``ECELoss`` /
      ``ClasswiseECELoss`` bins ``(b/M, (b+1)/M]`` (float32 edges, 0.0 in no bin).
    - ``"monai"``: MONAI's ``CalibrationErrorMetric`` (``calibration_reduction="expected"``,
      ``metric_reduction="mean"``): per volume and per channel one-vs-rest ECE over all
      voxels on right-closed edges ``linspace(0, 1 + eps_float32, M + 1)``, mean over
      volumes and channels — speccal's ``"sce"`` under this protocol (MONAI's default
      ``num_bins`` is 20: pass ``n_bins=20``).

    Examples
    --------
    >>> from speccal.evaluation import EvaluationProtocol
    >>> EvaluationProtocol.preset("mbls").voxels
    'foreground'
    """

    voxels: str = "all"
    ignore_class: int | None = None
    aggregation: str = "pooled"
    volume_weights: str = "uniform"
    include_background: bool = True
    bin_rule: str = "left"
    name: str = "custom"

    @classmethod
    def preset(cls, name):
        """Return the named preset protocol (see Notes of the class).

        Parameters
        ----------
        name : {"speccal", "nixon", "mbls", "monai"}

        Returns
        -------
        EvaluationProtocol

        Raises
        ------
        ValueError
            If ``name`` is not a preset.
        """
        if name not in PROTOCOL_PRESETS:
            raise ValueError(f"`protocol` must be one of {tuple(PROTOCOL_PRESETS)}; got {name!r}.")
        return PROTOCOL_PRESETS[name]

    def validate(self):
        """Check every field; return ``self``.

        Raises
        ------
        ValueError
            Naming the field, the allowed values and the value received.
        TypeError
            If ``ignore_class`` is not an int or None, or ``include_background`` not a bool.
        """
        for field, allowed in (
            ("voxels", _VOXELS),
            ("aggregation", _AGGREGATIONS),
            ("volume_weights", _VOLUME_WEIGHTS),
            ("bin_rule", BIN_RULES),
        ):
            check_option(field, getattr(self, field), allowed)
        check_scalar("ignore_class", self.ignore_class, integer=True, allow_none=True)
        check_bool("include_background", self.include_background)
        return self

    def select(self, y_true, mask=None):
        """Boolean array of the voxels counted in one volume, or None for all of them.

        Parameters
        ----------
        y_true : ndarray of shape (...)
        mask : array-like of bool of shape (...) or None

        Returns
        -------
        ndarray of bool of shape (...) or None

        Raises
        ------
        ValueError
            If ``voxels="mask"`` and no mask is given, or the mask's shape differs.
        """
        if self.voxels == "mask" and mask is None:
            raise ValueError("`mask` must be given when the protocol has voxels='mask'; got None.")
        keep = None
        if mask is not None:
            keep = np.asarray(mask)
            if keep.shape != y_true.shape or keep.dtype != bool:
                raise ValueError(
                    f"`mask` must be a bool array of shape {y_true.shape!r}; "
                    f"got {keep.dtype!s} of shape {keep.shape!r}."
                )
        for drop in (self.ignore_class, 0 if self.voxels == "foreground" else None):
            if drop is not None:
                keep = (y_true != drop) if keep is None else keep & (y_true != drop)
        return keep

    def describe(self):
        """One sentence stating the protocol, for results tables.

        Returns
        -------
        str
        """
        voxels = {"all": "all voxels", "foreground": "ground-truth foreground voxels"}.get(
            self.voxels, "masked voxels"
        )
        ignore = "" if self.ignore_class is None else f" (label {self.ignore_class} ignored)"
        if self.aggregation == "pooled":
            aggregation = "pooled over volumes"
        else:
            aggregation = f"per volume, then a {self.volume_weights}-weighted mean"
        background = "included in" if self.include_background else "excluded from"
        return (
            f"{self.name}: {voxels}{ignore}, {aggregation}, background class {background} "
            f"the class averages, equal-width bin rule {self.bin_rule!r}"
        )

    def replace(self, **changes):
        """Return a copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)


#: The named presets of :class:`EvaluationProtocol`.
PROTOCOL_PRESETS = {
    "speccal": EvaluationProtocol(name="speccal"),
    "nixon": EvaluationProtocol(bin_rule="left-extra", name="nixon"),
    "mbls": EvaluationProtocol(
        voxels="foreground",
        aggregation="per_volume",
        volume_weights="count",
        bin_rule="right-nonzero",
        name="mbls",
    ),
    "monai": EvaluationProtocol(aggregation="per_volume", bin_rule="right", name="monai"),
}

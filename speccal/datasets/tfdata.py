"""The ``tf.data`` patch pipeline (imports TensorFlow; ``speccal.datasets`` itself does not)."""

import tensorflow as tf

from speccal.datasets._augment import Augmenter
from speccal.datasets._patches import PatchSampler


def patch_dataset(
    volumes,
    patch_size=(96, 96, 96),
    *,
    batch_size=2,
    foreground_fraction=0.33,
    augment=True,
    seed=0,
    n_patches=None,
    start=0,
    num_parallel_calls=None,
    prefetch=None,
):
    """A ``tf.data.Dataset`` of random training patches, batched and prefetched.

    Patch ``i`` comes from :meth:`PatchSampler.sample` seeded by ``(seed, i)`` (numpy, inside
    ``tf.numpy_function``), mapped in parallel with a deterministic order, so the stream is the
    same on every run.

    Parameters
    ----------
    volumes : sequence or PatchSampler
        Cases with ``.image``/``.label`` (e.g. a :class:`~speccal.datasets.PreprocessedDataset`
        or the training cases of a split), ``(image, label)`` pairs, or a ready sampler.
    patch_size : tuple of 3 int, default=(96, 96, 96)
    batch_size : int, default=2
    foreground_fraction : float, default=0.33
        Probability of a foreground-centred patch.
    augment : bool or callable, default=True
        True: :class:`~speccal.datasets.Augmenter` with its defaults; False/None: none.
    seed : int, default=0
    n_patches : int, optional
        Finite number of patches (default: an endless stream for ``steps_per_epoch``).
    start : int, default=0
        Index of the first patch: ``start = t * batch_size`` continues the stream at batch
        ``t`` without drawing the earlier patches (a resumed training run).
    num_parallel_calls, prefetch : int, optional
        Default ``tf.data.AUTOTUNE``.

    Returns
    -------
    tf.data.Dataset
        Elements ``(images, labels)``: float32 ``(batch_size, *patch_size, n_modalities)``
        and int32 ``(batch_size, *patch_size)``; a last incomplete batch is dropped.

    Raises
    ------
    ValueError
        From :class:`PatchSampler`, or if ``batch_size`` is not a positive int or ``start``
        is not a non-negative int.

    Examples
    --------
    >>> from speccal.datasets import SyntheticPhantoms
    >>> from speccal.datasets.tfdata import patch_dataset
    >>> ds = patch_dataset(SyntheticPhantoms(n_cases=2, shape=(16, 16, 8)), (8, 8, 8))
    >>> images, labels = next(iter(ds))
    >>> tuple(images.shape), labels.dtype.name
    ((2, 8, 8, 8, 2), 'int32')
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int; got {batch_size!r}.")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"`start` must be a non-negative int; got {start!r}.")
    if isinstance(volumes, PatchSampler):
        sampler = volumes
    else:
        augment = Augmenter() if augment is True else (augment or None)
        sampler = PatchSampler(
            volumes,
            patch_size,
            foreground_fraction=foreground_fraction,
            augment=augment,
            seed=seed,
        )
    shape = sampler.patch_size
    n_modalities = sampler.n_modalities
    autotune = tf.data.AUTOTUNE

    def draw(index):
        image, label = tf.numpy_function(
            sampler.sample, [index], [tf.float32, tf.int32], stateful=False
        )
        image.set_shape((*shape, n_modalities))
        label.set_shape(shape)
        return image, label

    if n_patches is None:
        data = tf.data.Dataset.counter(start)
    else:
        data = tf.data.Dataset.range(start, start + int(n_patches))
    data = data.map(draw, num_parallel_calls=num_parallel_calls or autotune, deterministic=True)
    data = data.batch(batch_size, drop_remainder=True)
    return data.prefetch(prefetch or autotune)

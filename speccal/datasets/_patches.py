"""Random patch sampling from in-memory volumes (numpy; the tf.data wrapper is in tfdata)."""

import numpy as np

#: Foreground voxels remembered per class and volume for foreground-biased sampling.
_MAX_LOCATIONS = 4000


class PatchSampler:
    """Draw ``(image, label)`` patches from volumes, optionally centred on foreground.

    Volumes smaller than the patch are zero-padded (image 0, label 0) symmetrically once, at
    construction. Patch ``index`` is drawn from ``numpy.random.default_rng([seed, index])``,
    so the stream is reproducible and independent of how many workers draw it.

    Parameters
    ----------
    volumes : sequence
        Cases with ``.image`` (X, Y, Z, n_modalities) and ``.label`` (X, Y, Z) attributes
        (e.g. a :class:`~speccal.datasets.PreprocessedDataset`), or ``(image, label)`` pairs.
        Read once into memory (memory-mapped arrays stay mapped).
    patch_size : tuple of 3 int, default=(96, 96, 96)
    foreground_fraction : float, default=0.33
        Probability that a patch is centred on a foreground voxel of a random class present
        in the volume (nnU-Net's oversampling); otherwise the position is uniform.
    augment : callable, optional
        ``augment(image, label, rng) -> (image, label)``, e.g. an
        :class:`~speccal.datasets.Augmenter`, applied to each patch.
    seed : int, default=0

    Attributes
    ----------
    n_modalities : int

    Raises
    ------
    ValueError
        If there are no volumes, a volume has no label, shapes disagree, or
        ``patch_size``/``foreground_fraction`` are invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from speccal.datasets import PatchSampler
    >>> image, label = np.ones((10, 12, 7, 2), np.float32), np.zeros((10, 12, 7), np.uint8)
    >>> sampler = PatchSampler([(image, label)], patch_size=(8, 8, 8))
    >>> [a.shape for a in sampler.sample(0)]
    [(8, 8, 8, 2), (8, 8, 8)]
    """

    def __init__(
        self, volumes, patch_size=(96, 96, 96), *, foreground_fraction=0.33, augment=None, seed=0
    ):
        patch_size = tuple(patch_size)
        if len(patch_size) != 3 or any(int(p) != p or p < 1 for p in patch_size):
            raise ValueError(f"`patch_size` must be 3 positive ints; got {patch_size!r}.")
        if not 0 <= foreground_fraction <= 1:
            raise ValueError(
                f"`foreground_fraction` must be in [0, 1]; got {foreground_fraction!r}."
            )
        self.patch_size = tuple(int(p) for p in patch_size)
        self.foreground_fraction = float(foreground_fraction)
        self.augment = augment
        self.seed = int(seed)
        self.images, self.labels, self.locations = [], [], []
        rng = np.random.default_rng([self.seed, 2**31])
        for number, volume in enumerate(volumes):
            image, label = volume if isinstance(volume, tuple) else (volume.image, volume.label)
            self._add(number, image, label, rng)
        if not self.images:
            raise ValueError("`volumes` must hold at least one labelled volume; got none.")
        self.n_modalities = self.images[0].shape[-1]

    def _add(self, number, image, label, rng):
        if label is None:
            raise ValueError(f"`volumes` must be labelled; volume {number} has no label.")
        image, label = np.asarray(image), np.asarray(label)
        if image.ndim != 4 or label.shape != image.shape[:3]:
            raise ValueError(
                f"volume {number}: image must be (X, Y, Z, n_modalities) with the label's "
                f"shape; got image {image.shape} and label {label.shape}."
            )
        if self.images and image.shape[-1] != self.images[0].shape[-1]:
            raise ValueError(
                f"volume {number} has {image.shape[-1]} modalities; the first has "
                f"{self.images[0].shape[-1]}."
            )
        pad = [max(0, p - n) for p, n in zip(self.patch_size, label.shape, strict=True)]
        if any(pad):
            widths = [(p // 2, p - p // 2) for p in pad]
            image = np.pad(image, [*widths, (0, 0)])
            label = np.pad(label, widths)
        locations = {}
        for k in np.unique(label):
            if k == 0:
                continue
            where = np.argwhere(label == k)
            if len(where) > _MAX_LOCATIONS:
                where = where[rng.choice(len(where), _MAX_LOCATIONS, replace=False)]
            locations[int(k)] = where
        self.images.append(image)
        self.labels.append(label)
        self.locations.append(locations)

    def __len__(self):
        return len(self.images)

    def volume_of(self, index):
        """Position in ``volumes`` of the volume patch number ``index`` is cut from.

        Parameters
        ----------
        index : int

        Returns
        -------
        int
        """
        return int(np.random.default_rng([self.seed, int(index)]).integers(len(self.images)))

    def sample(self, index):
        """Patch number ``index``.

        Parameters
        ----------
        index : int

        Returns
        -------
        image : ndarray of shape (*patch_size, n_modalities), float32
        label : ndarray of shape patch_size, int32
        """
        rng = np.random.default_rng([self.seed, int(index)])
        v = int(rng.integers(len(self.images)))  # the first draw: see volume_of
        label = self.labels[v]
        shape = np.asarray(label.shape)
        size = np.asarray(self.patch_size)
        high = shape - size
        locations = self.locations[v]
        if locations and rng.random() < self.foreground_fraction:
            where = locations[list(locations)[int(rng.integers(len(locations)))]]
            centre = where[int(rng.integers(len(where)))]
            start = np.clip(centre - size // 2, 0, high)
        else:
            start = np.array([rng.integers(h + 1) for h in high])
        box = tuple(slice(s, s + p) for s, p in zip(start, size, strict=True))
        image = np.asarray(self.images[v][box], dtype=np.float32)
        patch = np.asarray(label[box])
        if self.augment is not None:
            image, patch = self.augment(image, patch, rng)
        return np.ascontiguousarray(image, dtype=np.float32), patch.astype(np.int32)

    def batch(self, indices):
        """Stack the patches of ``indices`` into ``(images, labels)`` arrays."""
        pairs = [self.sample(i) for i in indices]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

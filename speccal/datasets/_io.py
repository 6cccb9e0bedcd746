"""Volume readers and writers: NIfTI/Analyze via nibabel, MetaImage via SimpleITK.

Every reader returns ``(array, affine, spacing)`` with the array reoriented to the closest
canonical (RAS+) orientation, so all loaders give one consistent axis order. A file that
cannot be read raises an error that names it.
"""

import zlib
from pathlib import Path

import numpy as np

NIFTI_SUFFIXES = (".nii.gz", ".nii")

#: LPS (DICOM/ITK world) to RAS (NIfTI world).
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def find_nifti(folder, stem):
    """Path of ``folder/stem.nii.gz`` or ``folder/stem.nii``.

    Parameters
    ----------
    folder : path
        Folder holding the file.
    stem : str
        File name without the NIfTI suffix.

    Returns
    -------
    pathlib.Path
        The existing file (``.nii.gz`` preferred).

    Raises
    ------
    FileNotFoundError
        If neither file exists; the message names the expected path.
    """
    for suffix in NIFTI_SUFFIXES:
        path = Path(folder) / f"{stem}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"missing file: expected {str(Path(folder) / stem)!r}.nii[.gz].")


def strip_nifti_suffix(name):
    """``name`` without ``.nii.gz``/``.nii``/``.hdr``/``.img``/``.mhd`` (or unchanged)."""
    for suffix in (*NIFTI_SUFFIXES, ".hdr", ".img", ".mhd"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def canonical(array, affine):
    """Reorient ``array`` (spatial axes first) and ``affine`` to the closest RAS+ orientation.

    Parameters
    ----------
    array : ndarray of shape (X, Y, Z, ...)
        Voxel data; trailing axes (channels, time) are carried along.
    affine : ndarray of shape (4, 4)
        Voxel-to-world (RAS, mm) transform.

    Returns
    -------
    array : ndarray
        Reoriented data.
    affine : ndarray of shape (4, 4)
        The matching affine.
    """
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    if np.array_equal(ornt, [[0, 1], [1, 1], [2, 1]]):
        return array, affine
    array = nib.orientations.apply_orientation(array, ornt)
    affine = affine @ nib.orientations.inv_ornt_aff(ornt, array.shape[:3])
    return array, affine


def spacing_of(affine):
    """Voxel spacing (mm) of each array axis, the column norms of ``affine[:3, :3]``."""
    return tuple(float(s) for s in np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0)))


def _unreadable(path, exc):
    return ValueError(f"could not read {str(path)!r} (truncated or corrupt?): {exc}")


def _read_errors():
    import nibabel as nib

    return (OSError, EOFError, ValueError, zlib.error, nib.filebasedimages.ImageFileError)


def read_header(path):
    """Affine (canonical RAS+) and spacing of a volume without reading its voxels.

    Parameters
    ----------
    path : path
        NIfTI (``.nii``, ``.nii.gz``), Analyze (``.hdr``/``.img``) or MetaImage (``.mhd``).

    Returns
    -------
    affine : ndarray of shape (4, 4)
    spacing : tuple of 3 float
    shape : tuple of 3 int
        Spatial shape after reorientation.

    Raises
    ------
    ValueError
        If the header cannot be read (the message names the file).
    """
    path = Path(path)
    if path.suffix == ".mhd":
        return read_metaimage(path, header_only=True)[1:]
    import nibabel as nib

    try:
        img = nib.load(path)
        shape = tuple(int(n) for n in img.shape[:3])
        affine = img.affine
    except _read_errors() as exc:
        raise _unreadable(path, exc) from exc
    return _canonical_header(affine, shape)


def _canonical_header(affine, shape):
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    affine = affine @ nib.orientations.inv_ornt_aff(ornt, shape)
    out = [0, 0, 0]
    for axis, (target, _) in enumerate(ornt):
        out[int(target)] = shape[axis]
    return affine, spacing_of(affine), tuple(out)


def read_volume(path, *, label=False):
    """Read one volume, reoriented to canonical RAS+.

    Parameters
    ----------
    path : path
        NIfTI (``.nii``, ``.nii.gz``), Analyze (``.hdr``/``.img``) or MetaImage (``.mhd``).
    label : bool, default=False
        Read raw stored values (``np.asanyarray(img.dataobj)``) instead of scaled float32.

    Returns
    -------
    array : ndarray of shape (X, Y, Z) or (X, Y, Z, n)
        float32 for images; the stored dtype for labels. A trailing singleton axis (Analyze
        ``(X, Y, Z, 1)``) is squeezed.
    affine : ndarray of shape (4, 4)
    spacing : tuple of 3 float

    Raises
    ------
    ValueError
        If the file is truncated, corrupt or not a 3D/4D volume (the message names it).
    """
    path = Path(path)
    if path.suffix == ".mhd":
        array, affine, _, _ = read_metaimage(path)
        array = array if label else array.astype(np.float32)
    else:
        import nibabel as nib

        try:
            img = nib.load(path)
            if label:
                array = np.asanyarray(img.dataobj)
            else:
                array = img.get_fdata(dtype=np.float32)
            affine = img.affine
        except _read_errors() as exc:
            raise _unreadable(path, exc) from exc
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    if array.ndim not in (3, 4):
        raise ValueError(
            f"volume {str(path)!r} must be 3D or 4D (channels last); got shape {array.shape}."
        )
    array, affine = canonical(array, affine)
    return array, affine, spacing_of(affine)


def _sitk():
    try:
        import SimpleITK
    except ImportError as exc:
        raise ImportError(
            "Reading PROMISE12 MetaImage (.mhd) files needs SimpleITK: "
            "pip install 'speccal[promise]' (or pip install SimpleITK)."
        ) from exc
    return SimpleITK


def read_metaimage(path, *, header_only=False):
    """Read a MetaImage (``.mhd`` + data file) with SimpleITK, as ``(x, y, z)`` RAS+.

    Parameters
    ----------
    path : path
        The ``.mhd`` header.
    header_only : bool, default=False
        Read only the header; the returned array is then ``None``.

    Returns
    -------
    array : ndarray of shape (X, Y, Z) or None
        Voxels in the stored dtype, x fastest on disk, reoriented to RAS+.
    affine : ndarray of shape (4, 4)
        From ``Direction``, ``Spacing`` and ``Origin`` (LPS in ITK), converted to RAS.
    spacing : tuple of 3 float
    shape : tuple of 3 int

    Raises
    ------
    ImportError
        If SimpleITK is not installed (the message gives the pip command).
    ValueError
        If the file is truncated, corrupt or not 3D (the message names it).

    Notes
    -----
    SimpleITK's arrays are ``(z, y, x)``; they are transposed to ``(x, y, z)`` and the ITK
    LPS world is mapped to RAS, :math:`A_{RAS} = \\mathrm{diag}(-1, -1, 1, 1)\\,A_{LPS}`.
    """
    sitk = _sitk()
    path = Path(path)
    try:
        if header_only:
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(path))
            reader.ReadImageInformation()
            source = reader
        else:
            source = sitk.ReadImage(str(path))
        dim = source.GetDimension()
        if dim != 3:
            raise ValueError(f"expected a 3D image; got {dim} dimensions")
        direction = np.asarray(source.GetDirection(), dtype=float).reshape(3, 3)
        spacing = np.asarray(source.GetSpacing(), dtype=float)
        origin = np.asarray(source.GetOrigin(), dtype=float)
        array = None if header_only else sitk.GetArrayFromImage(source).transpose(2, 1, 0)
    except RuntimeError as exc:
        raise _unreadable(path, exc) from exc
    except ValueError as exc:
        raise ValueError(f"MetaImage {str(path)!r} is not supported: {exc}.") from exc
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing
    affine[:3, 3] = origin
    affine = _LPS_TO_RAS @ affine
    if array is None:
        return (None, *_canonical_header(affine, tuple(int(n) for n in source.GetSize())))
    array, affine = canonical(array, affine)
    return array, affine, spacing_of(affine), array.shape


_MET_TYPES = {
    np.dtype(np.int16): "MET_SHORT",
    np.dtype(np.uint8): "MET_UCHAR",
    np.dtype(np.int8): "MET_CHAR",
    np.dtype(np.float32): "MET_FLOAT",
}


def write_metaimage(path, array, spacing, origin=(0.0, 0.0, 0.0)):
    """Write a 3D ``(x, y, z)`` array as MetaImage ``path`` (``.mhd``) + ``.raw``, LPS identity.

    Parameters
    ----------
    path : path
        Header path ending in ``.mhd``; the data go to the same stem with ``.raw``.
    array : ndarray of shape (X, Y, Z)
        int16, uint8, int8 or float32 voxels, written x fastest (Fortran order).
    spacing : tuple of 3 float
        ``ElementSpacing`` in mm.
    origin : tuple of 3 float, default=(0, 0, 0)
        ``Offset`` (LPS, mm).

    Raises
    ------
    ValueError
        If ``array`` is not 3D or has an unsupported dtype.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.ndim != 3 or array.dtype not in _MET_TYPES:
        raise ValueError(
            f"`array` must be 3D with dtype in {sorted(str(d) for d in _MET_TYPES)}; "
            f"got shape {array.shape} and dtype {array.dtype}."
        )
    raw = path.with_suffix(".raw")
    header = {
        "ObjectType": "Image",
        "NDims": "3",
        "BinaryData": "True",
        "BinaryDataByteOrderMSB": "False",
        "CompressedData": "False",
        "TransformMatrix": "1 0 0 0 1 0 0 0 1",
        "Offset": " ".join(f"{o:g}" for o in origin),
        "CenterOfRotation": "0 0 0",
        "AnatomicalOrientation": "RAI",
        "ElementSpacing": " ".join(f"{s:g}" for s in spacing),
        "DimSize": " ".join(str(n) for n in array.shape),
        "ElementType": _MET_TYPES[array.dtype],
        "ElementDataFile": raw.name,
    }
    path.write_text("".join(f"{k} = {v}\n" for k, v in header.items()))
    array.astype(array.dtype.newbyteorder("<")).ravel(order="F").tofile(raw)

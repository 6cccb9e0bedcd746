"""Installation script for speccal.

The lower bounds below are the versions the test suite was run with.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "speccal" / "__init__.py").read_text(), re.M
).group(1)

INSTALL_REQUIRES = [
    "tensorflow>=2.21",
    "keras>=3.15",
    "numpy>=2.4",
    "scipy>=1.17",
    "scikit-learn>=1.9",
    "nibabel>=5.4",
    "matplotlib>=3.11",
    "tqdm>=4.70",
    "joblib>=1.6",
    # speccal's one engine past one machine (DESIGN §5): `speccal study` runs its trials as
    # Dask tasks on a LocalCluster by default, `speccal score/evaluate --jobs/--scheduler` map
    # volumes to workers, so it is a core dependency, not an extra. Tested with 2026.8.
    "dask[distributed]>=2026.8",
]

DOCS_REQUIRE = [
    "sphinx>=9.0",
    "numpydoc>=1.11",
    "sphinx-gallery>=0.22",
    "pydata-sphinx-theme>=0.24",
    "sphinx-argparse>=0.6.1",
    "sphinx-mathjax-offline>=0.0.2",
]
PROMISE_REQUIRE = ["SimpleITK>=2.5"]
# Reference implementations the tests compare with (importorskip: optional even for them).
TEST_EXTRA_REQUIRE = ["relplot>=1.0.3", "uncertainty-calibration>=0.1.4"]

EXTRAS_REQUIRE = {
    # optional compiled loop of the calibration kernel (speccal.metrics._fused); numpy otherwise
    "fast": ["numba>=0.68"],
    "gpu": ["tensorflow[and-cuda]>=2.21"],
    "promise": PROMISE_REQUIRE,
    "docs": DOCS_REQUIRE,
    "test-extra": TEST_EXTRA_REQUIRE,
    # The tests build the docs and read PROMISE12's MetaImage files, so they need both.
    "dev": [
        "pytest>=9.2",
        "pytest-xdist>=3.8",
        "hypothesis>=6.170",
        "ruff>=0.17",
        "medpy>=0.5.2",
        *DOCS_REQUIRE,
        *PROMISE_REQUIRE,
        *TEST_EXTRA_REQUIRE,
    ],
}

setup(
    name="speccal",
    version=VERSION,
    description=(
        "Calibration toolkit for medical image segmentation: spectral entropy "
        "regularization, baselines, post-hoc calibrators and evaluators (Keras 3)."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    # numpy 2.4, scipy 1.17, scikit-learn 1.9, keras 3.15 and matplotlib 3.11 require 3.11
    python_requires=">=3.11",
    packages=find_packages(include=["speccal", "speccal.*"]),
    include_package_data=True,
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["speccal = speccal.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)

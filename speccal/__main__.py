"""``python -m speccal`` runs the command line."""

import sys

from speccal.cli import main

sys.exit(main())

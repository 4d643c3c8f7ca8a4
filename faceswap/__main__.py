"""Entry point for ``python -m faceswap``."""

import sys

from faceswap.cli import main

sys.exit(main())

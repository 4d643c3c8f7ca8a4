"""Where a conversion's result becomes the output file: written under a hidden temporary name
beside the output, then finalised (renamed into place) in ONE function, ``finalise_output``.

A failed conversion therefore never leaves a half-written file and never touches an existing
output. Anything that must happen to each converted file once it is complete and closed belongs
in ``finalise_output``; the C2PA Content Credentials are attached once the whole conversion has
finished (faceswap.provenance.conversion.attach_credentials, called at the end of ``convert``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def temporary_sibling(path: Path, tag: str) -> Path:
    """A hidden file name next to ``path`` (same folder, same suffix) for writing before renaming."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{tag}.{os.getpid()}{path.suffix}")


def finalise_output(temporary: Path, output: Path) -> Path:
    """Make the complete, closed file ``temporary`` the conversion's ``output`` (atomic rename in
    the same folder) and return ``output``.

    Every swapped video and every swapped picture goes through here, and only those: pictures
    without a face are copied unchanged, as nothing synthetic was made.
    """
    os.replace(temporary, output)
    logger.debug("wrote %s", output)
    return Path(output)

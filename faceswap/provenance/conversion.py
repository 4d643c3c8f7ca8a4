"""Content Credentials for the files `convert` writes: one call at the end of a conversion.

``attach_credentials(source, report, model_dir, settings)`` signs what the conversion produced:

* video -> video: the output video (MP4/MOV/M4V/AVI; MKV and WebM cannot carry a manifest and get a
  warning saying so);
* folder -> folder: every picture that was swapped. Pictures without a face are byte-for-byte
  copies of their input (faceswap.conversion.convert) and are left alone: nothing was generated
  in them, and the input's own credentials, if any, stay intact.

The input is bound as the parent ingredient only when ``settings.c2pa_ingredient`` is set.
Returns the report unchanged, so the hook reads ``return attach_credentials(...)``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypeVar

from faceswap.provenance.credentials import CredentialSettings, ENV_PREFIX, signing_credentials
from faceswap.provenance.manifest import MEDIA_TYPES, model_identity, sign_file
from faceswap.settings import settings_from

logger = logging.getLogger(__name__)

Report = TypeVar("Report")


def _same_bytes(first: Path, second: Path) -> bool:
    if first.stat().st_size != second.stat().st_size:
        return False
    return first.read_bytes() == second.read_bytes()


def swapped_outputs(source: Path, output: Path, skipped: list[str]) -> list[tuple[Path, Path]]:
    """(input, output) picture pairs of a folder conversion whose output differs from the input."""
    from faceswap.images import list_images

    pairs = []
    for picture in list_images(source):
        target = output / picture.name
        if picture.name in skipped or not target.is_file():
            continue
        if not _same_bytes(picture, target):
            pairs.append((picture, target))
    return pairs


def attach_credentials(source: str | Path, report: Report, model_dir: str | Path,
                       settings: CredentialSettings | None = None) -> Report:
    """Sign the outputs of a finished conversion (``report.output``: video file or folder).

    ``settings`` None: from the environment (FACESWAP_C2PA_*). Raises CredentialError for unusable
    credentials and ProvenanceError when a file of a supported format fails to sign; files of
    formats without C2PA support are reported with a warning and left unsigned.
    """
    settings = settings or settings_from(CredentialSettings, env_prefix=ENV_PREFIX)
    credentials = signing_credentials(settings)
    if credentials is None:
        logger.warning("Content Credentials are off (--no-c2pa-sign): the output carries only the visible mark")
        return report
    source, output = Path(source), Path(report.output)
    pairs = swapped_outputs(source, output, list(report.skipped)) if output.is_dir() else [(source, output)]
    model = model_identity(model_dir)
    signed, unsupported = 0, []
    for original, target in pairs:
        if target.suffix.lower() not in MEDIA_TYPES:
            unsupported.append(target.name)
            continue
        sign_file(target, credentials, model, ingredient=original if settings.c2pa_ingredient else None)
        signed += 1
    if unsupported:
        logger.warning("%d output file(s) cannot carry Content Credentials (%s, e.g. %s): write %s instead",
                       len(unsupported), Path(unsupported[0]).suffix, unsupported[0], ", ".join(sorted(MEDIA_TYPES)))
    logger.info("Content Credentials: %d file(s) signed in %s", signed, output)
    return report

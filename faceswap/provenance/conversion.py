"""Content Credentials for the files `convert` writes: one call at the end of a conversion.

``attach_credentials(source, report, model_dir, settings)`` signs what the conversion produced:

* video -> video: the output video (MP4/MOV/M4V; MKV and WebM cannot carry a manifest and get a
  warning that names SIGNABLE_VIDEO_SUFFIXES, the containers convert writes and C2PA can sign);
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

SIGNABLE_VIDEO_SUFFIXES = (".mp4", ".mov")
"""Video containers that `convert` writes (faceswap.conversion.video_io.OUTPUT_FORMATS) and C2PA can sign
(MEDIA_TYPES): what the warning for an unsigned video suggests instead."""
SIGNABLE_PICTURE_SUFFIXES = (".jpg", ".png")
"""Picture formats to suggest for a folder whose pictures C2PA cannot sign (e.g. BMP)."""


def unsigned_warning(unsupported: list[str]) -> str:
    """One sentence for outputs (file names, at least one) left unsigned because their format cannot carry
    Content Credentials, naming formats that convert writes and C2PA can sign."""
    from faceswap.images import IMAGE_SUFFIXES

    suffix = Path(unsupported[0]).suffix.lower()
    pictures = suffix in IMAGE_SUFFIXES
    choices = SIGNABLE_PICTURE_SUFFIXES if pictures else SIGNABLE_VIDEO_SUFFIXES
    advice = (f"convert the pictures to {' or '.join(choices)} first" if pictures else
              f"write the output as {' or '.join(choices)} instead, which convert writes and C2PA can sign")
    return (f"{len(unsupported)} output file(s) cannot carry Content Credentials ({suffix or 'no suffix'}, "
            f"e.g. {unsupported[0]}) and were left unsigned; {advice}.")


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
        logger.warning("%s", unsigned_warning(unsupported))
    logger.info("Content Credentials: %d file(s) signed in %s", signed, output)
    return report

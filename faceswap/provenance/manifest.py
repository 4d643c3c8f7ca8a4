"""Signed C2PA Content Credentials on files the service writes (c2pa-python, the reference SDK).

The manifest says what was done to the file, in the terms of the C2PA Technical Specification 2.1
(section 18 "Actions") and IPTC NewsCodes:

* ``c2pa.actions``: ``c2pa.created`` (or ``c2pa.opened`` of the input, when the operator allows the
  input as an ingredient) followed by ``c2pa.edited``, both with the digital source type
  ``compositeWithTrainedAlgorithmicMedia`` (a real picture whose face was replaced by a trained
  model: a composite, not a wholly generated picture). The edit names the software
  (``softwareAgent``) and the model in its parameters: the model directory's name, its config and
  the sha256 of its manifest.json and model files (faceswap.model.runtime).
* the hard binding (a data hash for JPEG/PNG, a BMFF hash for MP4/MOV) so any change to the
  content after signing shows up as ``assertion.dataHash.mismatch``/``bmffHash.mismatch``.
* optionally the input as ``parentOf`` ingredient (its own Content Credentials, if any, come along:
  the history stays linked). Off by default: the ingredient carries the input's name and, for
  pictures, a thumbnail of the original face.

``sign_file`` rewrites a file in place (a temporary file beside it, then an atomic rename);
``sign_bytes`` does the same for bytes in memory (page recordings). Both raise ProvenanceError
with one line for a format C2PA cannot carry (WebM, MKV, BMP ...) or a failed signature.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faceswap import __version__
from faceswap.errors import FaceswapError
from faceswap.provenance.credentials import SigningCredentials
from faceswap.provenance.frame_metadata import DIGITAL_SOURCE_TYPE, SOFTWARE_NAME

logger = logging.getLogger(__name__)

MEDIA_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
}
"""File suffixes whose formats can carry an embedded C2PA manifest (and that the service writes)."""

EDIT_DESCRIPTION = "faces replaced by a trained face-swap model (shared-encoder / dual-decoder autoencoder)"


class ProvenanceError(FaceswapError):
    """A file could not get (or be read for) Content Credentials; the message is one line."""


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made the swap: read from the model directory's manifest.json."""

    name: str
    config: str
    manifest_sha256: str
    files: list[dict[str, str]] = field(default_factory=list)

    def as_parameters(self) -> dict[str, Any]:
        return {"name": self.name, "config": self.config, "manifest_sha256": self.manifest_sha256,
                "files": self.files}


def model_identity(model_dir: str | Path) -> ModelIdentity:
    """The name (manifest ``name`` or the directory name), config and checksums of an exported model.

    Raises ModelDirectoryError (from faceswap.model.runtime) for a directory without a valid manifest.
    """
    from faceswap.model.runtime import MANIFEST_NAME, file_sha256, read_manifest

    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    return ModelIdentity(
        name=str(manifest.get("name") or model_dir.resolve().name),
        config=str(manifest.get("config", "")),
        manifest_sha256=file_sha256(model_dir / MANIFEST_NAME),
        files=[{"path": str(entry["path"]), "sha256": str(entry["sha256"])} for entry in manifest["files"]],
    )


def media_type(path: str | Path) -> str:
    """The MIME type C2PA needs for ``path``; ProvenanceError for a format that cannot carry a manifest."""
    suffix = Path(path).suffix.lower()
    if suffix not in MEDIA_TYPES:
        raise ProvenanceError(f"{path}: {suffix or 'this'} files cannot carry Content Credentials "
                              f"(supported: {', '.join(sorted(MEDIA_TYPES))})")
    return MEDIA_TYPES[suffix]


def manifest_definition(title: str, mime: str, model: ModelIdentity | None, with_parent: bool,
                        description: str = EDIT_DESCRIPTION) -> dict[str, Any]:
    """The C2PA manifest definition (JSON-able dict) for one swapped file."""
    agent = {"name": SOFTWARE_NAME, "version": __version__}
    parameters: dict[str, Any] = {"description": description}
    if model is not None:
        parameters["model"] = model.as_parameters()
    first = ({"action": "c2pa.opened", "parameters": {"ingredientIds": ["input"]}} if with_parent else
             {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE, "softwareAgent": agent})
    edited = {"action": "c2pa.edited", "digitalSourceType": DIGITAL_SOURCE_TYPE, "softwareAgent": agent,
              "parameters": parameters}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": mime,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [first, edited]}}],
    }


def _signer(credentials: SigningCredentials):
    import c2pa

    info = c2pa.C2paSignerInfo(credentials.algorithm.encode("ascii"), credentials.chain_pem.encode("ascii"),
                               credentials.key_pem.encode("ascii"),
                               credentials.timestamp_url.encode("ascii") if credentials.timestamp_url else None)
    return c2pa.Signer.from_info(info)


def _sign_stream(source, target, mime: str, title: str, credentials: SigningCredentials,
                 model: ModelIdentity | None, ingredient: Path | None, description: str) -> None:
    import c2pa

    definition = manifest_definition(title, mime, model, ingredient is not None, description)
    try:
        builder = c2pa.Builder(definition)
        with builder:
            if ingredient is not None:
                with open(ingredient, "rb") as handle:
                    builder.add_ingredient({"title": ingredient.name, "relationship": "parentOf", "label": "input"},
                                           media_type(ingredient), handle)
            signer = _signer(credentials)
            with signer:
                builder.sign(signer, mime, source, target)
    except c2pa.C2paError as error:
        raise ProvenanceError(f"{title}: signing the Content Credentials failed "
                              f"({str(error).splitlines()[0]})") from None


def sign_file(path: str | Path, credentials: SigningCredentials, model: ModelIdentity | None = None,
              ingredient: str | Path | None = None, description: str = EDIT_DESCRIPTION) -> Path:
    """Embed a signed manifest into the file ``path`` (rewritten in place, atomically); return it.

    ``ingredient``: the input file to bind as parent (None: not bound). Raises ProvenanceError for
    an unsupported format or a failed signature; the file is then left as it was.
    """
    path = Path(path)
    mime = media_type(path)
    ingredient = Path(ingredient) if ingredient is not None else None
    if ingredient is not None and ingredient.suffix.lower() not in MEDIA_TYPES:
        logger.warning("%s: the input format cannot be bound as an ingredient; signing without it", ingredient)
        ingredient = None
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with open(path, "rb") as source, os.fdopen(descriptor, "w+b") as target:
            _sign_stream(source, target, mime, path.name, credentials, model, ingredient, description)
        os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def sign_bytes(data: bytes, mime: str, title: str, credentials: SigningCredentials,
               model: ModelIdentity | None = None, description: str = EDIT_DESCRIPTION) -> bytes:
    """``data`` (a whole file of type ``mime``) with a signed manifest embedded; ProvenanceError if not possible."""
    if mime not in MEDIA_TYPES.values():
        raise ProvenanceError(f"{title}: {mime or 'this format'} cannot carry Content Credentials "
                              f"(supported: {', '.join(sorted(set(MEDIA_TYPES.values())))})")
    target = io.BytesIO()
    _sign_stream(io.BytesIO(data), target, mime, title, credentials, model, None, description)
    return target.getvalue()

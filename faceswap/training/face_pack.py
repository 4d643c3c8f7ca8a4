"""Face packs: one side's training faces in one small ``.npz`` file, to train on another machine.

A pack holds a loaded FaceSet (training/dataset.py) as it is used in training: every face as its
*working* crop (already shrunk to ``oversample`` x the model's resolution, e.g. 144 px for the
96-px ``res96`` config at 1.5) encoded as JPEG, with its 68 landmarks and its working px -> model
crop px matrix, identity key and name. A machine that has the pack needs neither the extracted
256-px PNG folders nor ``faces.json`` (scripts/gpu_training/ carries packs to a GPU machine).

Arrays in the file (``allow_pickle=False``):

- ``jpeg``: uint8 (total bytes,), the JPEG files back to back; ``offsets``: int64 (N + 1,);
- ``landmarks``: float64 (N, 68, 2) in working px; ``to_model``: float64 (N, 2, 3);
- ``meta``: UTF-8 JSON: format, side, model layout (size, padding ratio), JPEG quality, folders,
  sources, and per face its name and identity.

JPEG at quality 95 changes a working crop by about 1 grey level on average (the test measures it);
BGR colour order throughout, as everywhere in faceswap.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from faceswap.errors import InputError
from faceswap.faces.alignment import FaceLayout
from faceswap.training.checkpoint import atomic_write_bytes
from faceswap.training.dataset import FaceSet, load_face_set

logger = logging.getLogger(__name__)

PACK_FORMAT = "faceswap-face-pack-1"
PACK_SUFFIX = ".npz"


def write_face_pack(face_set: FaceSet, path: str | Path, quality: int = 95) -> Path:
    """Write ``face_set`` to ``path`` (atomically); returns the path. ``quality``: JPEG quality 1-100."""
    path = Path(path)
    chunks: list[bytes] = []
    for index, image in enumerate(face_set.images):
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise InputError(f"{face_set.names[index]}: cannot be encoded as JPEG")
        chunks.append(encoded.tobytes())
    offsets = np.concatenate([[0], np.cumsum([len(chunk) for chunk in chunks])]).astype(np.int64)
    layout = face_set.model_layout
    meta = {"format": PACK_FORMAT, "side": face_set.side, "model_layout": [layout.size, layout.padding_ratio],
            "jpeg_quality": int(quality), "folders": [str(folder) for folder in face_set.folders],
            "sources": dict(face_set.sources), "names": face_set.names, "identities": face_set.identities}
    arrays = {"jpeg": np.frombuffer(b"".join(chunks), dtype=np.uint8), "offsets": offsets,
              "landmarks": np.asarray(face_set.landmarks, dtype=np.float64),
              "to_model": np.asarray(face_set.to_model, dtype=np.float64),
              "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda handle: np.savez(handle, **arrays))
    logger.info("wrote %d faces of side %s to %s (%.1f MB)", len(face_set), face_set.side.upper(), path,
                path.stat().st_size / 1e6)
    return path


def read_face_pack(path: str | Path, model_layout: FaceLayout, side: str | None = None) -> FaceSet:
    """The FaceSet stored in ``path``; InputError if it is unreadable or was packed for another
    model layout (size / padding) than ``model_layout``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, UnicodeDecodeError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: not a readable face pack ({error})") from None
    if meta.get("format") != PACK_FORMAT:
        raise InputError(f"{path}: not a face pack (format {meta.get('format')!r})")
    size, padding = meta["model_layout"]
    if (int(size), float(padding)) != (model_layout.size, float(model_layout.padding_ratio)):
        raise InputError(f"{path}: packed for {size}-px faces with padding {padding}, but this model wants "
                         f"{model_layout.size} px with padding {model_layout.padding_ratio}; pack it again")
    jpeg, offsets = arrays["jpeg"], arrays["offsets"]
    images = []
    for index in range(len(offsets) - 1):
        image = cv2.imdecode(jpeg[offsets[index]:offsets[index + 1]], cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f"{path}: face {meta['names'][index]} is not a readable JPEG")
        images.append(image)
    face_set = FaceSet(side=side or meta["side"], folders=[path], model_layout=model_layout, images=images,
                       landmarks=arrays["landmarks"], to_model=arrays["to_model"], names=list(meta["names"]),
                       sources=Counter(meta["sources"]), identities=list(meta["identities"]))
    logger.info("side %s: %d faces from pack %s", face_set.side.upper(), len(face_set), path)
    return face_set


def is_face_pack(path: str | Path) -> bool:
    """True for a pack file (``.npz``), False for a face folder."""
    path = Path(path)
    return path.suffix == PACK_SUFFIX and not path.is_dir()


def load_side(side: str, paths: list[str | Path], model_layout: FaceLayout, oversample: float = 1.5,
              progress: bool = True, max_faces_per_folder: int | None = None) -> FaceSet:
    """The faces of one side from face packs (first, in the given order) and/or face folders (``extract``
    output, after them); InputError as ``load_face_set`` / ``read_face_pack`` raise it.
    ``max_faces_per_folder``: read only that many faces of each folder, evenly spread (``load_face_set``'s
    ``max_faces``); packs are always read whole (one file, decoded in memory)."""
    folders = [Path(p) for p in paths if not is_face_pack(p)]
    packs = [Path(p) for p in paths if is_face_pack(p)]
    if not packs:
        return load_face_set(side, folders, model_layout, oversample, progress, max_faces_per_folder)
    parts = [read_face_pack(pack, model_layout, side) for pack in packs]
    if folders:
        parts.append(load_face_set(side, folders, model_layout, oversample, progress, max_faces_per_folder))
    merged = FaceSet(side=side, folders=[folder for part in parts for folder in part.folders],
                     model_layout=model_layout)
    for part in parts:
        merged.images.extend(part.images)
        merged.names.extend(part.names)
        merged.identities.extend(part.identities)
        merged.sources.update(part.sources)
    merged.landmarks = np.concatenate([part.landmarks for part in parts])
    merged.to_model = np.concatenate([part.to_model for part in parts])
    return merged

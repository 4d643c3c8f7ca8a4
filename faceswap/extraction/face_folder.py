"""A folder of aligned faces: PNG crops plus ``faces.json`` describing them.

``faces.json``::

    {"layout": {"size": 256, "padding_ratio": 0.1875},
     "faces": {"d6_000012_0.png": {"source": "d6.mp4", "frame": 12, "face": 0, "score": 0.93,
                                   "identity": "d6",
                                   "landmarks": [[x, y], ... 68 points in crop px]}}}

``identity`` (see extraction/identities.py) says which faces show the same person; folders
written before it existed get the source's stem when they are read.

Crops are uint8 BGR in the folder's FaceLayout (by default the classic 256 px / 48 px layout).
Written by extraction, read by training.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceswap.errors import InputError
from faceswap.faces.alignment import FaceLayout

INDEX_NAME = "faces.json"


@dataclass
class FaceRecord:
    """One aligned face: file name in the folder, where it came from, (68, 2) landmarks in crop px."""

    file: str
    source: str
    frame: int
    face: int
    score: float
    landmarks: np.ndarray
    identity: str = ""

    def __post_init__(self) -> None:
        if not self.identity:
            self.identity = Path(self.source).stem if self.source else ""

    def to_dict(self) -> dict:
        return {"source": self.source, "frame": self.frame, "face": self.face, "score": round(self.score, 4),
                "identity": self.identity, "landmarks": np.round(self.landmarks, 2).tolist()}


@dataclass
class FaceFolder:
    """The index of one folder of aligned faces."""

    path: Path
    layout: FaceLayout
    records: dict[str, FaceRecord] = field(default_factory=dict)

    @classmethod
    def create_or_open(cls, path: str | Path, layout: FaceLayout) -> "FaceFolder":
        """Open ``path`` for adding faces (creating it); refuse a folder made with another layout."""
        path = Path(path)
        if (path / INDEX_NAME).exists():
            folder = cls.open(path)
            if folder.layout != layout:
                raise InputError(f"{path / INDEX_NAME}: the folder holds faces in layout {folder.layout.to_dict()}, "
                                 f"not {layout.to_dict()}; choose another output folder")
            return folder
        path.mkdir(parents=True, exist_ok=True)
        return cls(path=path, layout=layout)

    @classmethod
    def open(cls, path: str | Path) -> "FaceFolder":
        """Read an existing folder; InputError naming the problem if it is missing, empty or corrupt."""
        path = Path(path)
        index = path / INDEX_NAME
        if not path.is_dir():
            raise InputError(f"{path}: no such face folder")
        if not index.is_file():
            raise InputError(f"{path}: has no {INDEX_NAME}; make it with `python -m faceswap extract`")
        try:
            data = json.loads(index.read_text())
            layout = FaceLayout.from_dict(data["layout"])
            records = {}
            for name, entry in data["faces"].items():
                landmarks = np.asarray(entry["landmarks"], dtype=np.float32)
                if landmarks.shape != (68, 2):
                    raise ValueError(f"{name}: landmarks are not 68 (x, y) points")
                records[name] = FaceRecord(name, entry.get("source", ""), int(entry.get("frame", 0)),
                                           int(entry.get("face", 0)), float(entry.get("score", 0.0)), landmarks,
                                           str(entry.get("identity", "")))
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(f"{index}: corrupt face index ({error})") from None
        missing = [name for name in records if not (path / name).is_file()]
        if missing:
            raise InputError(f"{path}: {len(missing)} faces listed in {INDEX_NAME} are missing, e.g. {missing[0]}")
        if not records:
            raise InputError(f"{path}: the face folder is empty")
        return cls(path=path, layout=layout, records=records)

    def add(self, record: FaceRecord) -> None:
        self.records[record.file] = record

    def save(self) -> None:
        """Write faces.json atomically (temporary file, then rename)."""
        data = {"layout": self.layout.to_dict(),
                "faces": {name: record.to_dict() for name, record in sorted(self.records.items())}}
        temporary = self.path / (INDEX_NAME + ".tmp")
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, self.path / INDEX_NAME)

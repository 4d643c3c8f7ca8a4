"""Identity keys of training faces: which faces show the same person.

Side A of an "any face -> target" model holds many people; batches are balanced across them
(training/sampling.py), so every face needs an identity. It comes from an *identity key*: a table
that maps source files to a neutral person key, such as ``../shared/data/faces/MANIFEST.md``
(a Markdown table with the columns ``file`` and ``id``) or a CSV file with the same columns.

Rules (``face_identity``):

- a file listed in the key gets its key (files with the same key show the same person);
- a file not listed is one person, named after its stem (a talking-head clip, one still);
- when a frame holds several faces (a group photo), each face is a different person: the key
  gets ``#<face number>`` appended, except for face 0 of a frame that kept a single face.
"""

from __future__ import annotations

import csv
from pathlib import Path

from faceswap.errors import InputError


def _markdown_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if all(set(cell) <= set("-: ") for cell in cells):
            continue  # the header separator |---|---|
        rows.append(cells)
    return rows


def read_identity_key(path: str | Path) -> dict[str, str]:
    """{file name (no folder): identity key} from a Markdown table or CSV with ``file`` and ``id``
    columns. InputError naming the file if it is missing or has no such columns."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read the identity key ({error.strerror or error})") from None
    rows = _markdown_rows(text) if path.suffix.lower() in (".md", ".markdown") else list(csv.reader(text.splitlines()))
    key: dict[str, str] = {}
    header: list[str] | None = None
    for row in rows:
        lowered = [cell.lower() for cell in row]
        if "file" in lowered and "id" in lowered:
            header = lowered
            continue
        if header is None or len(row) != len(header):
            continue
        file_name = Path(row[header.index("file")]).name
        identity = row[header.index("id")].strip()
        if file_name and identity:
            key[file_name] = identity
    if not key:
        raise InputError(f"{path}: no table with the columns 'file' and 'id' (the identity key)")
    return key


def face_identity(source: str | Path, face_number: int, faces_in_frame: int,
                  key: dict[str, str] | None = None) -> str:
    """Identity of face ``face_number`` (0 = largest) of a frame of ``source`` that kept
    ``faces_in_frame`` faces; see the module docstring for the rules."""
    source = Path(source)
    identity = (key or {}).get(source.name, source.stem)
    if faces_in_frame > 1 or face_number > 0:
        identity = f"{identity}#{face_number}"
    return identity

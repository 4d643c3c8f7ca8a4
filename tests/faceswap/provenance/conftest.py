"""Fixtures for provenance tests: a development signing credential, and real conversions signed
with it — a short clip cut from d0 (video, input bound as ingredient) and a folder with a face
still (s5) and a faceless one (s39) — using the bundled model models/default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.faceswap.conversion.conftest import cut_clip

DEFAULT_MODEL = REPO_ROOT / "models" / "default"


@pytest.fixture(scope="session")
def dev_credentials(tmp_path_factory) -> dict[str, Path]:
    """{'ca', 'chain', 'key'}: a fresh development CA + ES256 signer made by the project's own command code."""
    from faceswap.provenance.credentials import make_development_credentials

    return make_development_credentials(tmp_path_factory.mktemp("c2pa-dev"))


@pytest.fixture(scope="session")
def credential_settings(dev_credentials):
    from faceswap.provenance.credentials import CredentialSettings

    return CredentialSettings(c2pa_cert=dev_credentials["chain"], c2pa_key=dev_credentials["key"])


@pytest.fixture(scope="session")
def signed_clip(clip_path, tmp_path_factory, credential_settings) -> tuple[Path, Path]:
    """(input clip, converted + signed clip): 8 frames of d0 with a tone, ingredient bound."""
    from dataclasses import replace

    from faceswap.conversion.convert import convert

    folder = tmp_path_factory.mktemp("signed-clip")
    source = cut_clip(clip_path("d0"), folder / "d0_short.mp4", 8, tone=True)
    output = folder / "d0_swapped.mp4"
    convert(source, output, DEFAULT_MODEL, progress=False,
            credentials=replace(credential_settings, c2pa_ingredient=True))
    return source, output


@pytest.fixture(scope="session")
def signed_stills(still_path, tmp_path_factory, credential_settings) -> tuple[Path, Path]:
    """(input folder, output folder) of a picture conversion: s5 (a face) and s39 (no face)."""
    from faceswap.conversion.convert import convert

    source = tmp_path_factory.mktemp("stills-in")
    for name in ("s5", "s39"):
        shutil.copyfile(still_path(name), source / f"{name}.jpg")
    output = tmp_path_factory.mktemp("stills-out") / "swapped"
    convert(source, output, DEFAULT_MODEL, progress=False, credentials=credential_settings)
    return source, output

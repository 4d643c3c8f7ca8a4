"""`python -m faceswap verify` as a user runs it: one line per file, exit codes for scripts,
tampering detected on real converted outputs, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys

from faceswap.provenance.verify import EXIT_CODES
from tests.conftest import REPO_ROOT


def verify(*arguments):
    return subprocess.run([sys.executable, "-m", "faceswap", "verify", *map(str, arguments)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def flip_byte(path, fraction: float) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * fraction)] ^= 0xFF
    path.write_bytes(bytes(data))


def test_valid_outputs_report_signer_and_digital_source_type(signed_clip, signed_stills, dev_credentials):
    clip, still = signed_clip[1], signed_stills[1] / "s5.jpg"
    result = verify(clip, still, "--trust-anchors", dev_credentials["ca"])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert ": VALID: content unchanged since signing" in line
        assert "signer: faceswap development C2PA signer (development only)" in line
        assert ", trusted;" in line
        assert "digital source type: compositeWithTrainedAlgorithmicMedia" in line

    untrusted = verify(still, "--require-trusted")
    assert untrusted.returncode == EXIT_CODES["invalid"]
    assert "UNTRUSTED" in untrusted.stdout


def test_changed_content_is_reported_as_tampered(signed_clip, signed_stills, tmp_path):
    clip, still = tmp_path / "clip.mp4", tmp_path / "still.jpg"
    shutil.copyfile(signed_clip[1], clip)
    shutil.copyfile(signed_stills[1] / "s5.jpg", still)
    flip_byte(clip, 0.9)    # inside the media data (mdat), far from the manifest box
    flip_byte(still, 0.9)   # inside the entropy-coded picture data

    result = verify(clip, still)

    assert result.returncode == EXIT_CODES["invalid"], result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{clip}: TAMPERED: the content was changed after signing (assertion.bmffHash.mismatch")
    assert lines[1].startswith(f"{still}: TAMPERED: the content was changed after signing (assertion.dataHash.mismatch")
    assert "Traceback" not in result.stderr


def test_missing_unreadable_and_unsigned_files_each_get_their_own_line_and_code(still_path, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    fake = tmp_path / "broken.jpg"
    fake.write_bytes(b"not a jpeg at all" * 10)
    cases = {tmp_path / "absent.mp4": ("MISSING: no such file", "missing"),
             text: ("UNREADABLE:", "unreadable"),
             fake: ("UNREADABLE:", "unreadable"),
             still_path("s1"): ("NO CREDENTIALS: the file carries no C2PA manifest", "no-credentials")}
    for path, (words, status) in cases.items():
        result = verify(path)
        assert result.returncode == EXIT_CODES[status], (path, result.stdout, result.stderr)
        assert result.stdout.strip().startswith(f"{path}: {words}")
        assert result.stderr == "" or "Traceback" not in result.stderr

    together = verify(tmp_path / "absent.mp4", still_path("s1"))
    assert together.returncode == EXIT_CODES["no-credentials"]  # the highest code wins
    assert len(together.stdout.splitlines()) == 2


def test_a_live_frame_has_no_credentials_but_its_xmp_digital_source_type_is_reported(still_path, tmp_path):
    from faceswap.provenance.frame_metadata import add_frame_metadata

    frame = tmp_path / "live-frame.jpg"
    frame.write_bytes(add_frame_metadata(still_path("s5").read_bytes()))
    result = verify(frame)
    assert result.returncode == EXIT_CODES["no-credentials"]
    assert result.stdout.strip() == (f"{frame}: NO CREDENTIALS: the file carries no C2PA manifest; "
                                     "XMP digital source type: compositeWithTrainedAlgorithmicMedia")

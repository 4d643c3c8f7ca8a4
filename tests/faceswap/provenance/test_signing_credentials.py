"""Signing credentials: the development pair meets C2PA's certificate profile; wrong or missing
operator credentials are one clear error before any conversion work; the fallback is marked."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from faceswap.conversion.convert import ConversionReport
from faceswap.conversion.video_io import OUTPUT_VIDEO_SUFFIXES
from faceswap.images import IMAGE_SUFFIXES
from faceswap.provenance.conversion import (SIGNABLE_PICTURE_SUFFIXES, SIGNABLE_VIDEO_SUFFIXES, attach_credentials,
                                            unsigned_warning)
from faceswap.provenance.credentials import (CredentialError, CredentialSettings, load_credentials,
                                             make_development_credentials, signing_credentials)
from faceswap.provenance.manifest import MEDIA_TYPES, ProvenanceError, sign_bytes
from tests.conftest import REPO_ROOT
from tests.faceswap.provenance.conftest import DEFAULT_MODEL


def test_development_pair_is_a_ca_and_an_es256_document_signer(dev_credentials):
    chain = x509.load_pem_x509_certificates(dev_credentials["chain"].read_bytes())
    signer, ca = chain
    assert signer.issuer == ca.subject != signer.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    usages = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in usages and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages
    assert signer.public_key().curve.name == "secp256r1"
    assert stat.S_IMODE(dev_credentials["key"].stat().st_mode) == 0o600
    with pytest.raises(CredentialError, match="already exists"):
        make_development_credentials(dev_credentials["key"].parent)


def test_wrong_or_incomplete_credentials_are_refused(dev_credentials, tmp_path):
    other = make_development_credentials(tmp_path / "other")
    with pytest.raises(CredentialError, match="does not belong to the first certificate"):
        load_credentials(CredentialSettings(c2pa_cert=dev_credentials["chain"], c2pa_key=other["key"]))
    with pytest.raises(CredentialError, match="holds one certificate"):
        load_credentials(CredentialSettings(c2pa_cert=dev_credentials["ca"], c2pa_key=dev_credentials["key"]))
    with pytest.raises(CredentialError, match="no such file"):
        load_credentials(CredentialSettings(c2pa_cert=tmp_path / "nope.pem", c2pa_key=dev_credentials["key"]))
    assert signing_credentials(CredentialSettings(c2pa_sign=False)) is None


def test_without_operator_credentials_a_development_pair_is_made_outside_the_repository(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("FACESWAP_C2PA_DEV_DIR", str(tmp_path / "dev"))
    credentials = signing_credentials(CredentialSettings())
    assert credentials is not None and (tmp_path / "dev" / "chain.pem").is_file()
    assert "prove nothing about who made it" in caplog.text


def test_an_unwritable_development_folder_is_a_credential_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("FACESWAP_C2PA_DEV_DIR", str(blocker / "dev"))
    with pytest.raises(CredentialError, match="cannot write the development credentials"):
        signing_credentials(CredentialSettings())


def test_outputs_in_formats_without_c2pa_are_left_unsigned_with_a_warning(credential_settings, tmp_path, caplog):
    output = tmp_path / "swapped.webm"
    output.write_bytes(b"\x1a\x45\xdf\xa3 pretend webm")
    report = ConversionReport(output=output)
    assert attach_credentials(tmp_path / "input.webm", report, DEFAULT_MODEL, credential_settings) is report
    assert output.read_bytes() == b"\x1a\x45\xdf\xa3 pretend webm"
    assert ("1 output file(s) cannot carry Content Credentials (.webm, e.g. swapped.webm) and were left unsigned; "
            "write the output as .mp4 or .mov instead, which convert writes and C2PA can sign.") in caplog.text


def test_the_unsigned_warning_suggests_formats_that_convert_writes_and_c2pa_signs():
    assert SIGNABLE_VIDEO_SUFFIXES and ".avi" not in SIGNABLE_VIDEO_SUFFIXES
    assert set(SIGNABLE_VIDEO_SUFFIXES) <= set(OUTPUT_VIDEO_SUFFIXES) & set(MEDIA_TYPES)
    assert set(SIGNABLE_PICTURE_SUFFIXES) <= set(IMAGE_SUFFIXES) & set(MEDIA_TYPES)
    for name in ("out.mkv", "out.webm"):
        warning = unsigned_warning([name, "other" + name[3:]])
        assert warning.startswith("2 output file(s) cannot carry") and warning.endswith(".") and warning.count(";") == 1
        assert ".mp4 or .mov instead" in warning and ".avi" not in warning
    assert unsigned_warning(["face.bmp"]).endswith("; convert the pictures to .jpg or .png first.")


def test_formats_that_cannot_carry_credentials_are_one_clear_error(credential_settings):
    with pytest.raises(ProvenanceError, match="video/webm cannot carry Content Credentials"):
        sign_bytes(b"\x1a\x45\xdf\xa3", "video/webm", "rec.webm", load_credentials(credential_settings))


def test_convert_with_a_missing_key_stops_before_any_work(clip_path, tmp_path, dev_credentials):
    output = tmp_path / "out.mp4"
    result = subprocess.run([sys.executable, "-m", "faceswap", "--quiet", "convert", str(clip_path("d18")), str(output),
                             "--c2pa-cert", str(dev_credentials["chain"]), "--c2pa-key", str(tmp_path / "absent.key")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'absent.key'}: no such file (the C2PA private key)"
    assert not output.exists()


def test_make_dev_cert_command_writes_the_three_files(tmp_path):
    result = subprocess.run([sys.executable, "-m", "faceswap", "make-dev-cert", str(tmp_path / "creds")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "creds").iterdir()) == ["ca.pem", "chain.pem", "signer.key"]
    assert "does not prove who" in result.stdout

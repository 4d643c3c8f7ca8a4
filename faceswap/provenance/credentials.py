"""Signing credentials for Content Credentials: the operator's certificate chain and private key.

A C2PA signer needs (C2PA Technical Specification 2.1, section 14.5 "Trust model" and the
certificate profile in 14.5.1, as checked by the reference implementation c2pa-rs):

* an end-entity certificate that is **not** self-signed and not a CA (basicConstraints CA=false),
  with keyUsage digitalSignature and an extendedKeyUsage of emailProtection, documentSigning
  or C2PA claim signing (never anyExtendedKeyUsage), plus subject/authority key identifiers;
* the chain (end entity first, then the issuing CA) in one PEM file, and the private key of the
  end entity (PKCS#8 PEM), for an algorithm C2PA allows — here ES256 (ECDSA P-256 / SHA-256).

The operator gives them by path: ``--c2pa-cert/--c2pa-key`` or the environment variables
FACESWAP_C2PA_CERT / FACESWAP_C2PA_KEY. Keys never live in the repository. Without them,
``signing_credentials`` falls back to a development pair kept outside the repository
(``$FACESWAP_C2PA_DEV_DIR``, default ``~/.cache/faceswap/c2pa-development``), made on first use,
and logs a warning each time: every output stays machine-readably marked, but such a signature
says nothing about who made the file.

``make_development_credentials`` writes a throw-away CA + end-entity pair for local use and
tests (``python -m faceswap make-dev-cert DIR``). A self-signed development credential proves
only that the file was not changed since *someone holding that key* signed it; it does not prove
who that was. See docs/privacy.md.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from faceswap.errors import FaceswapError
from faceswap.settings import setting

logger = logging.getLogger(__name__)

ENV_PREFIX = "FACESWAP_"  # + field name: FACESWAP_C2PA_CERT, FACESWAP_C2PA_KEY, FACESWAP_C2PA_INGREDIENT ...
DEV_DIR_VARIABLE = "FACESWAP_C2PA_DEV_DIR"
CERT_FILE = "chain.pem"
KEY_FILE = "signer.key"
CA_FILE = "ca.pem"
SIGNING_ALGORITHM = "es256"
DOCUMENT_SIGNING_OID = "1.3.6.1.5.5.7.3.36"  # id-kp-documentSigning (RFC 9336)


class CredentialError(FaceswapError):
    """The signing certificate or key is missing, unreadable or unfit for C2PA."""


@dataclass
class CredentialSettings:
    """Content Credentials of converted files (environment prefix FACESWAP_C2PA_)."""

    c2pa_sign: bool = setting(True, "sign the output with C2PA Content Credentials (without --c2pa-cert/--c2pa-key: "
                                    "a self-signed development credential, with a warning)")
    c2pa_cert: Path | None = setting(None, "PEM certificate chain (signer first, then its CA) for Content Credentials")
    c2pa_key: Path | None = setting(None, "PEM private key of the signing certificate (ES256)")
    c2pa_ingredient: bool = setting(False, "bind the input file into the manifest as the parent ingredient "
                                           "(includes a thumbnail of the input; off unless the operator allows)")
    c2pa_timestamp_url: str | None = setting(None, "RFC 3161 time-stamp authority URL (none: the signing time is "
                                                   "the signer's own claim)")


@dataclass(frozen=True)
class SigningCredentials:
    """A loaded certificate chain (PEM text) and private key (PEM text)."""

    chain_pem: str
    key_pem: str
    algorithm: str = SIGNING_ALGORITHM
    timestamp_url: str | None = None


def development_credentials_dir(environ=None) -> Path:
    """Where the fallback development credentials live: $FACESWAP_C2PA_DEV_DIR or the user's cache."""
    environ = os.environ if environ is None else environ
    if environ.get(DEV_DIR_VARIABLE):
        return Path(environ[DEV_DIR_VARIABLE])
    cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "faceswap" / "c2pa-development"


def signing_credentials(settings: CredentialSettings) -> SigningCredentials | None:
    """The credentials to sign with: None when signing is off; the operator's pair when given;
    otherwise the development pair (made on first use) with a warning. CredentialError if unusable."""
    if not settings.c2pa_sign:
        return None
    if settings.c2pa_cert is not None or settings.c2pa_key is not None:
        return load_credentials(settings)
    folder = development_credentials_dir()
    if not all((folder / name).is_file() for name in (CERT_FILE, KEY_FILE)):
        try:
            make_development_credentials(folder, overwrite=True)
        except OSError as error:
            raise CredentialError(f"{folder}: cannot write the development credentials ({error.strerror}); "
                                  f"set {DEV_DIR_VARIABLE} or give --c2pa-cert/--c2pa-key") from None
    logger.warning("Content Credentials signed with the self-signed development credential in %s: they mark the "
                   "output as AI-edited but prove nothing about who made it (give --c2pa-cert/--c2pa-key)", folder)
    return load_credentials(CredentialSettings(c2pa_cert=folder / CERT_FILE, c2pa_key=folder / KEY_FILE,
                                               c2pa_timestamp_url=settings.c2pa_timestamp_url))


def check_credentials(settings: CredentialSettings) -> None:
    """Fail fast (before any conversion work) when the operator named credentials that are unusable."""
    if settings.c2pa_sign and (settings.c2pa_cert is not None or settings.c2pa_key is not None):
        load_credentials(settings)


def load_credentials(settings: CredentialSettings) -> SigningCredentials:
    """Read the chain and key named by ``settings``; CredentialError (one line) when either is missing.

    Checks the PEM framing and that the key matches the end-entity certificate, so a wrong pair
    fails here, before any conversion work, not while signing.
    """
    if settings.c2pa_cert is None or settings.c2pa_key is None:
        raise CredentialError(
            "Content Credentials need both --c2pa-cert and --c2pa-key (or FACESWAP_C2PA_CERT and "
            "FACESWAP_C2PA_KEY); for local use make a development pair with `python -m faceswap make-dev-cert DIR`")
    texts = []
    for what, path in (("certificate chain", settings.c2pa_cert), ("private key", settings.c2pa_key)):
        path = Path(path)
        if not path.is_file():
            raise CredentialError(f"{path}: no such file (the C2PA {what})")
        try:
            texts.append(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError) as error:
            raise CredentialError(f"{path}: cannot read the C2PA {what} ({error})") from None
    chain_pem, key_pem = texts
    _check_pair(Path(settings.c2pa_cert), chain_pem, Path(settings.c2pa_key), key_pem)
    return SigningCredentials(chain_pem, key_pem, timestamp_url=settings.c2pa_timestamp_url)


def _check_pair(cert_path: Path, chain_pem: str, key_path: Path, key_pem: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        chain = x509.load_pem_x509_certificates(chain_pem.encode("ascii"))
    except ValueError as error:
        raise CredentialError(f"{cert_path}: not a PEM certificate chain ({error})") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    except (ValueError, TypeError) as error:
        raise CredentialError(f"{key_path}: not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CredentialError(f"{key_path}: expected an ECDSA P-256 key (C2PA ES256)")
    if len(chain) < 2:
        raise CredentialError(f"{cert_path}: holds one certificate; C2PA needs the signer's certificate "
                              "followed by the CA that issued it (a self-signed signer is rejected)")
    if chain[0].public_key().public_numbers() != key.public_key().public_numbers():
        raise CredentialError(f"{key_path}: does not belong to the first certificate of {cert_path}")


def _name(common_name: str, organization: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])


def make_development_credentials(folder: str | Path, organization: str = "faceswap development",
                                 days: int = 365, overwrite: bool = False) -> dict[str, Path]:
    """Write a self-signed development CA and an ES256 C2PA signing certificate into ``folder``.

    Files: ``ca.pem`` (the CA certificate: a trust anchor for `verify --trust-anchors`),
    ``chain.pem`` (signer certificate + CA, for --c2pa-cert) and ``signer.key`` (PKCS#8 PEM, mode
    0600, for --c2pa-key). The CA key is not kept: nothing else can be issued under it.
    Refuses to replace existing files unless ``overwrite``. Returns the paths by role.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

    folder = Path(folder)
    paths = {"ca": folder / CA_FILE, "chain": folder / CERT_FILE, "key": folder / KEY_FILE}
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing and not overwrite:
        raise CredentialError(f"{existing[0]}: already exists; pass --overwrite to replace the development credentials")
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{organization} root CA (self-signed, development only)", organization)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer_cert = (
        x509.CertificateBuilder().subject_name(_name(f"{organization} C2PA signer (development only)", organization))
        .issuer_name(ca_name).public_key(signer_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                              ObjectIdentifier(DOCUMENT_SIGNING_OID)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    paths["ca"].write_bytes(ca_cert.public_bytes(pem))
    paths["chain"].write_bytes(signer_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_bytes = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    os.chmod(paths["key"], 0o600)
    logger.info("development C2PA credentials in %s (valid %d days)", folder, days)
    return paths

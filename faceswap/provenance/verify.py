"""Read a file's Content Credentials back with the reference reader (c2pa.Reader) and judge them.

``verify_file(path, trust_anchors_pem=None) -> Verdict``: never raises for a bad file. The status
is one of

=================  ====  ==========================================================================
``valid``          0     a manifest whose signature and content hashes check out
``missing``        3     no such file
``unreadable``     4     a format the C2PA reader cannot parse (or not a media file at all)
``no-credentials`` 5     a readable file without a C2PA manifest (JPEG frames: the XMP digital
                         source type, faceswap.provenance.frame_metadata, is still reported)
``invalid``        6     a manifest that fails validation: the content was changed after signing
                         (``tampered``), or the manifest itself is damaged or its signature wrong
=================  ====  ==========================================================================

Trust is separate from validity: a valid manifest is ``trusted`` only when its certificate chain
ends at one of the given trust anchors (PEM). A self-signed development credential is valid but
not trusted: it shows the file is unchanged since someone holding that key signed it, not who.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

EXIT_CODES = {"valid": 0, "missing": 3, "unreadable": 4, "no-credentials": 5, "invalid": 6}

TAMPER_CODES = ("assertion.dataHash.mismatch", "assertion.bmffHash.mismatch", "assertion.boxesHash.mismatch",
                "assertion.collectionHash.mismatch", "assertion.hashedURI.mismatch", "claimSignature.mismatch")
"""Validation failure codes (C2PA Technical Specification 2.1, section 15) that mean the content or
the signed claim changed after signing."""

TRUST_CODES = ("signingCredential.untrusted",)


@dataclass
class Verdict:
    """What verify found in one file."""

    path: Path
    status: str
    signer: str | None = None
    issuer: str | None = None
    trusted: bool = False
    tampered: bool = False
    digital_source_types: list[str] = field(default_factory=list)
    generator: str | None = None
    failures: list[str] = field(default_factory=list)
    detail: str = ""

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def line(self) -> str:
        """One human-readable line for the verify command."""
        name = str(self.path)
        sources = ", ".join(source.rsplit("/", 1)[-1] for source in self.digital_source_types) or "none stated"
        if self.status == "missing":
            return f"{name}: MISSING: no such file"
        if self.status == "unreadable":
            return f"{name}: UNREADABLE: not a format that can carry Content Credentials ({self.detail})"
        if self.status == "no-credentials":
            extra = f"; XMP digital source type: {sources}" if self.digital_source_types else ""
            return f"{name}: NO CREDENTIALS: the file carries no C2PA manifest{extra}"
        signer = f"signer: {self.signer or 'unknown'}" + (f" (issuer {self.issuer})" if self.issuer else "")
        trust = "trusted" if self.trusted else "not trusted (no trust anchor given or the chain does not reach one)"
        if self.status == "valid":
            return (f"{name}: VALID: content unchanged since signing; {signer}, {trust}; "
                    f"digital source type: {sources}; generator: {self.generator or 'unknown'}")
        what = "TAMPERED: the content was changed after signing" if self.tampered else "INVALID manifest"
        return f"{name}: {what} ({', '.join(self.failures) or self.detail}); {signer}; digital source type: {sources}"


def _reader_context(trust_anchors_pem: str | None):
    import c2pa

    settings: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors_pem:
        settings["trust"] = {"user_anchors": trust_anchors_pem}
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def _digital_source_types(manifest: dict) -> list[str]:
    found: list[str] = []
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                source = action.get("digitalSourceType")
                if source and source not in found:
                    found.append(source)
    return found


def _xmp_source_types(path: Path) -> list[str]:
    from faceswap.provenance.frame_metadata import read_digital_source_type

    if path.suffix.lower() not in (".jpg", ".jpeg"):
        return []
    with open(path, "rb") as handle:
        source = read_digital_source_type(handle.read(1 << 16))
    return [source] if source else []


def verify_file(path: str | Path, trust_anchors_pem: str | None = None) -> Verdict:
    """Check the Content Credentials of ``path``; see the module docstring for the statuses."""
    import c2pa

    path = Path(path)
    if not path.is_file():
        return Verdict(path, "missing")
    try:
        reader = c2pa.Reader(str(path), None, None, _reader_context(trust_anchors_pem))
    except c2pa.C2paError.ManifestNotFound:
        return Verdict(path, "no-credentials", digital_source_types=_xmp_source_types(path))
    except (c2pa.C2paError.NotSupported, c2pa.C2paError.Io) as error:
        return Verdict(path, "unreadable", detail=str(error).splitlines()[0])
    except c2pa.C2paError as error:  # a manifest is there but cannot even be parsed
        return Verdict(path, "invalid", detail=f"damaged manifest: {str(error).splitlines()[0]}")
    with reader:
        store = json.loads(reader.json())
        manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
        results = (store.get("validation_results") or {}).get("activeManifest") or {}
        state = store.get("validation_state")
    failures = [entry.get("code", "") for entry in results.get("failure", [])]
    signature = manifest.get("signature_info", {})
    generator = ", ".join(" ".join(str(part) for part in (info.get("name"), info.get("version")) if part)
                          for info in manifest.get("claim_generator_info", [])) or manifest.get("claim_generator")
    verdict = Verdict(path, "valid", signer=signature.get("common_name"), issuer=signature.get("issuer"),
                      trusted=state == "Trusted", digital_source_types=_digital_source_types(manifest),
                      generator=generator, failures=[code for code in failures if code not in TRUST_CODES])
    verdict.tampered = any(code in TAMPER_CODES for code in verdict.failures)
    if verdict.failures or state == "Invalid":
        verdict.status = "invalid"
    return verdict

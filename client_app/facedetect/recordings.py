"""``POST /recordings/sign``: the page hands in a finished recording of the swapped view and gets
it back with signed C2PA Content Credentials (c2pa.edited, digital source type
compositeWithTrainedAlgorithmicMedia) — nothing is kept.

Privacy: the body is read into memory, signed and returned in the same request; it is never
written to disk or logged, and the response says ``Cache-Control: no-store``. Only MP4 (what
Chromium records) can carry a manifest; WebM (Firefox) is answered 415 and the page offers the
unsigned file with a note.

What the signature means: the page server signs what the browser hands in; it did not watch the
frames being made. The manifest says so in its description, and docs/privacy.md says what that
implies (anyone who can reach this endpoint can have an MP4 labelled as made by this service).

The signing code is the faceswap core's (faceswap.provenance); this module imports it only when
a recording arrives, so the page still serves where the core is not deployed (then: 503).
Credentials: FACESWAP_C2PA_CERT / FACESWAP_C2PA_KEY, else a development credential (warning).
Size limit: FACESWAP_RECORDING_MAX_BYTES (default 100 MB): 413 above it.
FACESWAP_RECORDING_SIGNING=off turns the route off (503; the page then offers unsigned files).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

logger = logging.getLogger(__name__)

SIGNABLE_TYPES = ("video/mp4",)
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
RECORDING_DESCRIPTION = ("recorded in the browser from the live face-swapped view (every frame with a face was "
                         "swapped by a trained model and carries a visible 'AI-generated' mark); signed by the "
                         "page server on upload, which did not see the frames being made")
CORE_ROOT = Path(__file__).resolve().parents[2]  # the repository holding faceswap/, when deployed with it

_signing_lock = threading.Lock()
_credentials = None


def _error(message: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _max_bytes() -> int:
    try:
        return int(os.environ.get("FACESWAP_RECORDING_MAX_BYTES", DEFAULT_MAX_BYTES))
    except ValueError:
        return DEFAULT_MAX_BYTES


def _provenance():
    """The faceswap.provenance modules (manifest, credentials, settings), or None when not deployed."""
    try:
        import faceswap.provenance.manifest  # noqa: F401
    except ImportError:
        if not (CORE_ROOT / "faceswap" / "provenance").is_dir():
            return None
        sys.path.append(str(CORE_ROOT))
        try:
            import faceswap.provenance.manifest  # noqa: F401
        except ImportError:
            return None
    from faceswap.provenance import credentials, manifest

    return credentials, manifest


def _signing_credentials(credentials_module):
    """Loaded once per process (a development pair is made on first use when none is configured)."""
    global _credentials
    with _signing_lock:
        if _credentials is None:
            from faceswap.settings import settings_from

            settings = settings_from(credentials_module.CredentialSettings, env_prefix=credentials_module.ENV_PREFIX)
            settings.c2pa_sign = True
            _credentials = credentials_module.signing_credentials(settings)
        return _credentials


def _same_origin(request: HttpRequest) -> bool:
    """Browsers say where a request comes from; only the page itself may use this endpoint."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.get_host()}"


@require_POST
def sign_recording(request: HttpRequest) -> HttpResponse:
    """MP4 bytes in (``Content-Type: video/mp4``) -> the same MP4 with an embedded, signed manifest."""
    if os.environ.get("FACESWAP_RECORDING_SIGNING", "on").strip().lower() in ("0", "false", "no", "off"):
        return _error("recording signing is turned off on this page server", 503)
    if not _same_origin(request):
        return _error("recordings are signed only for the page itself", 403)
    limit = _max_bytes()
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > limit:
        return _error(f"the recording is {announced} bytes; the limit is {limit} bytes", 413)
    data = request.read(limit + 1)
    if len(data) > limit:
        return _error(f"the recording is over the limit of {limit} bytes", 413)
    if not data:
        return _error("the request holds no recording", 400)
    media_type = request.content_type.split(";")[0].strip().lower()
    if media_type not in SIGNABLE_TYPES:
        return _error(f"{media_type or 'this format'} cannot carry Content Credentials; record as MP4 "
                      "(Chromium-based browsers do) to get a signed recording", 415)
    modules = _provenance()
    if modules is None:
        return _error("recording signing is not installed on this page server", 503)
    credentials_module, manifest = modules
    try:
        credentials = _signing_credentials(credentials_module)
        signed = manifest.sign_bytes(data, media_type, "faceswap-recording.mp4", credentials,
                                     description=RECORDING_DESCRIPTION)
    except credentials_module.CredentialError as error:
        logger.error("recording signing is misconfigured: %s", error)
        return _error("recording signing is misconfigured on this page server", 503)
    except manifest.ProvenanceError as error:
        return _error(f"the recording could not be signed: {str(error).split(': ', 1)[-1]}", 422)
    response = HttpResponse(signed, content_type=media_type)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response

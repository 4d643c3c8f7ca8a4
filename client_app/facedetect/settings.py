"""Django settings of the webcam page, read from the environment (no secret lives in the repo).

The client tier is deployed on its own (App Engine standard, only Django + gunicorn installed),
so it reads its environment here instead of importing the ``faceswap`` package:

=========================  ==============================================================
``DJANGO_SECRET_KEY``      required to serve unless DEBUG is on (then a random per-process key);
                           not needed to run ``collectstatic`` (a build step)
``DJANGO_DEBUG``           ``1``/``true``/``yes``/``on`` turns debug on; off by default
``DJANGO_ALLOWED_HOSTS``   comma-separated host names (default ``localhost,127.0.0.1,[::1]``)
``FACESWAP_WEBSOCKET_URL`` the relay's stream URL the page connects to
                           (default ``ws://127.0.0.1:8001/stream``; ``wss://`` behind HTTPS)
``DJANGO_STATIC_ROOT``     where ``collectstatic`` puts the files (default ``client_app/staticfiles``)
``DJANGO_SECURE_HSTS_SECONDS`` HSTS max-age sent on HTTPS responses with DEBUG off (default one
                           year; 0 turns it off); a ``ws://`` relay URL is upgraded to
                           ``wss://`` on HTTPS pages (views.relay_url_for)
``FACESWAP_SESSION_SECRET`` signs the relay's session tokens (facedetect/session_token.py); the
                           relay has the same value. Required to serve unless DEBUG is on.
``FACESWAP_SESSION_MAX_AGE_S`` how long a token opens streams (default 120; the relay's value)
=========================  ==============================================================

No database and no sessions: the page stores nothing, frames never reach Django.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")


def _environment_flag(name: str, default: bool) -> bool:
    text = os.environ.get(name)
    if text is None:
        return default
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={text!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def _environment_seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ImproperlyConfigured(f"{name}={text!r} is not a positive number of seconds.")
    return value


def _environment_list(name: str, default: list[str]) -> list[str]:
    text = os.environ.get(name)
    if text is None:
        return list(default)
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class ClientSettings:
    """What the operator can change about the page, with the defaults for local use."""

    debug: bool = False
    secret_key: str | None = None
    allowed_hosts: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"])
    websocket_url: str = "ws://127.0.0.1:8001/stream"
    static_root: Path = BASE_DIR / "staticfiles"
    session_secret: str | None = field(default=None, repr=False)
    session_max_age_s: float = 120.0

    @classmethod
    def from_environment(cls) -> "ClientSettings":
        defaults = cls()
        settings = cls(
            debug=_environment_flag("DJANGO_DEBUG", defaults.debug),
            secret_key=os.environ.get("DJANGO_SECRET_KEY") or None,
            allowed_hosts=_environment_list("DJANGO_ALLOWED_HOSTS", defaults.allowed_hosts),
            websocket_url=os.environ.get("FACESWAP_WEBSOCKET_URL", defaults.websocket_url).strip(),
            static_root=Path(os.environ.get("DJANGO_STATIC_ROOT", str(defaults.static_root))),
            session_secret=os.environ.get("FACESWAP_SESSION_SECRET", "").strip() or None,
            session_max_age_s=_environment_seconds("FACESWAP_SESSION_MAX_AGE_S", defaults.session_max_age_s),
        )
        settings.validate()
        return settings

    def serving_problems(self) -> list[str]:
        """What stops the page from serving requests (checked by wsgi.py and `manage.py check`,
        not by build steps such as collectstatic, which sign nothing)."""
        problems = []
        if not self.debug and not self.secret_key:
            problems.append("DJANGO_SECRET_KEY is not set: set it in the environment (a long random string) "
                            "or set DJANGO_DEBUG=1 for local development.")
        if not self.debug and not self.session_secret:
            problems.append("FACESWAP_SESSION_SECRET is not set: the relay admits only streams with a session "
                            "token signed by it (the same value on both tiers; docs/deployment.md), "
                            "or set DJANGO_DEBUG=1 for local development.")
        return problems

    def validate(self) -> None:
        if self.session_secret is not None and len(self.session_secret) < 32:
            raise ImproperlyConfigured("FACESWAP_SESSION_SECRET must be at least 32 characters (a long random string).")
        parts = urlsplit(self.websocket_url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ImproperlyConfigured(
                f"FACESWAP_WEBSOCKET_URL={self.websocket_url!r} is not a WebSocket URL "
                "(expected ws://HOST:PORT/stream or wss://HOST/stream)."
            )


CLIENT = ClientSettings.from_environment()

DEBUG = CLIENT.debug
# With DEBUG on (or in a build step such as collectstatic) and no key, a random key per process
# is fine: Django signs nothing here (no sessions, no database); session tokens use their own secret.
SECRET_KEY = CLIENT.secret_key or secrets.token_urlsafe(50)
ALLOWED_HOSTS = CLIENT.allowed_hosts
FACESWAP_WEBSOCKET_URL = CLIENT.websocket_url
FACESWAP_SESSION_SECRET = CLIENT.session_secret
FACESWAP_SESSION_MAX_AGE_S = CLIENT.session_max_age_s

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "facedetect.apps.FaceDetectConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "facedetect.urls"
WSGI_APPLICATION = "facedetect.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

DATABASES: dict = {}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = CLIENT.static_root

# App Engine terminates TLS and forwards the scheme in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
# HSTS: browsers keep to HTTPS for a year once they saw the page over HTTPS. SecurityMiddleware
# sends it only on HTTPS requests (so local http:// use is unaffected) and only with DEBUG off.
SECURE_HSTS_SECONDS = 0 if DEBUG else int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # appspot.com subdomains belong to other projects
X_FRAME_OPTIONS = "DENY"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

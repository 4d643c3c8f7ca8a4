"""WSGI entry point (gunicorn on App Engine: ``gunicorn -b :$PORT facedetect.wsgi``).

Refuses to start without the secrets a served page needs (settings.ClientSettings.serving_problems).
"""

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facedetect.settings")

application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - settings are configured by now

_problems = settings.CLIENT.serving_problems()
if _problems:
    raise ImproperlyConfigured(" ".join(_problems))

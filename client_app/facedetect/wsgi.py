"""WSGI entry point (gunicorn on App Engine: ``gunicorn -b :$PORT facedetect.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facedetect.settings")

application = get_wsgi_application()

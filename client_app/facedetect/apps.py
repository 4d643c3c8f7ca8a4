"""The facedetect app: registers the serving check (secrets present unless DEBUG is on)."""

from django.apps import AppConfig
from django.core import checks


class FaceDetectConfig(AppConfig):
    name = "facedetect"

    def ready(self) -> None:
        checks.register(serving_secrets_check)


def serving_secrets_check(app_configs, **kwargs) -> list[checks.Error]:
    """`manage.py check` and `runserver` refuse what wsgi.py refuses; collectstatic, which runs
    only the staticfiles checks, needs no secret."""
    from django.conf import settings

    return [checks.Error(problem, id=f"facedetect.E00{number}")
            for number, problem in enumerate(settings.CLIENT.serving_problems(), start=1)]

#!/usr/bin/env python
"""Django's command-line utility for the webcam page (runserver, collectstatic, check)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facedetect.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A configuration mistake is the operator's to fix: one clear sentence, no traceback.
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()

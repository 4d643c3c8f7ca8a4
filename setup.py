"""Package the custom prediction routine: ``python setup.py sdist``.

The sdist (dist/faceswap-routine-<version>.tar.gz) holds ``prediction_routine`` and the
``faceswap`` core package it imports — no tests, models, client_app or websocket_server.
Legacy AI Platform installs it from ``packageUris`` and loads the class
``prediction_routine.predictor.ModelPrediction`` (see prediction_routine/deploy.py).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "faceswap" / "__init__.py").read_text()).group(1)

setup(
    name="faceswap-routine",
    version=VERSION,
    description="Face-swap custom prediction routine (ModelPrediction) and the faceswap core it needs",
    packages=find_packages(include=["faceswap", "faceswap.*", "prediction_routine", "prediction_routine.*"]),
    include_package_data=True,
    python_requires=">=3.9",
    # Dependencies the serving runtime must provide (the sdist itself holds only this project's code).
    install_requires=["numpy", "opencv-contrib-python", "mediapipe", "ai-edge-litert"],
)

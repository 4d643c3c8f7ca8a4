"""The third tier of the face-swap service: the Google custom prediction routine
(``prediction_routine.predictor.ModelPrediction``), a local prediction server speaking Google's
REST contracts (server.py under gunicorn), the cloud deployment command (deploy.py) and the
container image (Dockerfile). See docs/protocols.md for the instance/prediction JSON.
"""

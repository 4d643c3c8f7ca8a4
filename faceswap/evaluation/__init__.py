"""Evaluation: measurable quality of a trained model on real clips (see quality.py)."""

"""Faces: detection and landmarks (MediaPipe), alignment to the mean face, masks, smoothing.

Used unchanged by extraction, training, conversion and the prediction routine.
"""

"""The face-swap autoencoder: its architecture (shared encoder, decoder A, decoder B) and the
runtime that serves an exported model directory (TFLite int8 or SavedModel).

Model tensors are BGR float32 in [0, 1], shape (N, S, S, 3).
"""

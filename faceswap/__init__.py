"""Face-swap core: face detection and alignment, the shared-encoder / dual-decoder
autoencoder, training, export, the per-frame swap pipeline and video conversion.

Training, conversion and the prediction routine all import this package, so each idea
(alignment maths above all) has exactly one implementation. See docs/code-map.md.
"""

__version__ = "0.1.0"

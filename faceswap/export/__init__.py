"""Export a trained checkpoint for serving: SavedModel (a2b/b2a signatures), TFLite dynamic-range
int8 models (one per direction) and manifest.json. See exporter.py; served by faceswap.model.runtime."""

"""Extraction: videos and pictures -> a folder of aligned faces for training."""

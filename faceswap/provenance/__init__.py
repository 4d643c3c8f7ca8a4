"""Provenance of what the service outputs: machine-readable "AI-generated" marks.

* ``frame_metadata``: the IPTC digital source type as XMP in each merged live JPEG frame.
* ``manifest``: signed C2PA Content Credentials on files (conversion outputs, page recordings).
* ``credentials``: the signing certificate and key (operator's, or a self-signed development one).
* ``verify``: read a file's Content Credentials back (``python -m faceswap verify``).
"""

"""Machine-readable "AI-generated" in each merged live frame: an XMP packet (JPEG APP1 segment).

A merged frame is a real picture whose face was replaced by a trained model, so its IPTC digital
source type is ``compositeWithTrainedAlgorithmicMedia``. The packet carries that in the IPTC
Photo Metadata Extension property ``Iptc4xmpExt:DigitalSourceType`` (IPTC Photo Metadata Standard
2023.1, the property Google, Meta and others read for AI labels) and names the software in
``xmp:CreatorTool``.

The APP1 segment is built once; ``add_frame_metadata`` only splices it into the JPEG bytes after
the SOI marker and the leading JFIF/Exif segments (JFIF and Exif each want to come first; XMP
specification part 3, section 1.1.3: APP1 = marker FFE1, length, ``http://ns.adobe.com/xap/1.0/\\0``,
packet). The pixels and the entropy-coded data are untouched. Cost: one bytes concatenation,
~0.005 ms for a 640x480 frame (scripts/benchmarks/frame_metadata_benchmark.py prints the figure).

Metadata is easily stripped (re-encoding, screenshots, most upload pipelines): it complements the
visible mark and the signed Content Credentials of files (faceswap.provenance.manifest), it
replaces neither.
"""

from __future__ import annotations

import re

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
"""IPTC NewsCodes digital source type of a face-swapped frame: a real picture composited with
output of a trained model (https://cv.iptc.org/newscodes/digitalsourcetype/)."""

SOFTWARE_NAME = "faceswap"

_XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\x00"
_SOI = b"\xff\xd8"
_APP0 = 0xE0
_EXIF = b"Exif\x00\x00"
_MAX_SEGMENT_PAYLOAD = 65533  # the 16-bit length includes its own two bytes


def xmp_packet(digital_source_type: str = DIGITAL_SOURCE_TYPE, creator_tool: str = SOFTWARE_NAME) -> bytes:
    """The UTF-8 XMP packet stating the digital source type and the software (no padding)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        f'<Iptc4xmpExt:DigitalSourceType>{digital_source_type}</Iptc4xmpExt:DigitalSourceType>'
        f'<xmp:CreatorTool>{creator_tool}</xmp:CreatorTool>'
        '</rdf:Description></rdf:RDF></x:xmpmeta>'
        '<?xpacket end="r"?>'
    ).encode("utf-8")


def app1_segment(packet: bytes) -> bytes:
    """A complete JPEG APP1 XMP segment (marker, big-endian length, namespace, packet)."""
    payload = _XMP_NAMESPACE + packet
    if len(payload) > _MAX_SEGMENT_PAYLOAD:
        raise ValueError(f"the XMP packet is {len(packet)} bytes; one APP1 segment holds at most "
                         f"{_MAX_SEGMENT_PAYLOAD - len(_XMP_NAMESPACE)}")
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


_SEGMENT = app1_segment(xmp_packet())


def add_frame_metadata(jpeg: bytes) -> bytes:
    """``jpeg`` (complete JPEG bytes) with the XMP APP1 segment stating the digital source type.

    Inserted after SOI and after the leading JFIF (APP0) and Exif (APP1) segments, if any, which
    their specifications want first. Bytes that are not a JPEG
    (no SOI marker) are returned unchanged: the caller's frame is never lost over metadata.
    """
    if not jpeg.startswith(_SOI):
        return jpeg
    position = 2
    while position + 10 <= len(jpeg) and jpeg[position] == 0xFF and (
            jpeg[position + 1] == _APP0 or (jpeg[position + 1] == 0xE1 and jpeg[position + 4:position + 10] == _EXIF)):
        position += 2 + int.from_bytes(jpeg[position + 2:position + 4], "big")
    if position > len(jpeg):
        return jpeg
    return b"".join((jpeg[:position], _SEGMENT, jpeg[position:]))


_DIGITAL_SOURCE_TYPE = re.compile(rb"<Iptc4xmpExt:DigitalSourceType>([^<]*)</Iptc4xmpExt:DigitalSourceType>")


def read_digital_source_type(jpeg: bytes) -> str | None:
    """The ``Iptc4xmpExt:DigitalSourceType`` of the first XMP APP1 segment of a JPEG, or None.

    Walks the marker segments up to the start of scan (SOS); tolerant of any other segments.
    """
    if not jpeg.startswith(_SOI):
        return None
    position = 2
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF:
        marker = jpeg[position + 1]
        if marker == 0xDA:  # start of scan: no more header segments
            return None
        length = int.from_bytes(jpeg[position + 2:position + 4], "big")
        body = jpeg[position + 4:position + 2 + length]
        if marker == 0xE1 and body.startswith(_XMP_NAMESPACE):
            match = _DIGITAL_SOURCE_TYPE.search(body)
            return match.group(1).decode("utf-8") if match else None
        position += 2 + length
    return None

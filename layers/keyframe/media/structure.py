"""Container structure that can be checked cheaply, reading only a few headers of the stored file.

A truncated upload (a cut-off recording, an interrupted copy) keeps a valid signature; these checks
find it through a ``read(offset, length)`` callable without downloading the file. Pure: the caller's
``read`` does the I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from keyframe.media.detected import Detected, u32be
from keyframe.media.errors import InvalidMediaError


@dataclass(frozen=True)
class Box:
    """One top-level ISO BMFF box: its four-character ``type``, byte ``offset`` and total ``size``."""

    type: str
    offset: int
    size: int


def walk_boxes(read: Callable[[int, int], bytes], size: int, *, max_boxes: int = 100_000) -> list[Box]:
    """Walk the top-level boxes of an ISO BMFF file of ``size`` bytes, reading only box headers.

    Parameters
    ----------
    read:
        ``read(offset, length) -> bytes`` (at most ``length`` bytes from ``offset``; fewer at the end).
    size:
        The file size in bytes.

    Returns
    -------
    list of Box
        In file order.

    Raises
    ------
    InvalidMediaError
        A box runs past the end of the file (truncated upload), a header is malformed, or there is no
        ``moov`` box (the index that players need: a recording that was cut off never wrote it).
    """
    boxes: list[Box] = []
    offset = 0
    while offset < size:
        if len(boxes) >= max_boxes:
            raise InvalidMediaError(f"The file has more than {max_boxes} top-level boxes; it is corrupt")
        header = read(offset, 16)
        if len(header) < 8:
            raise InvalidMediaError(
                f"The file is truncated: a box header at byte {offset} is cut off (the file is {size} bytes)"
            )
        box_size, box_type = u32be(header, 0), header[4:8]
        header_size = 8
        if box_size == 1:
            if len(header) < 16:
                raise InvalidMediaError(f"The file is truncated inside the box header at byte {offset}")
            box_size, header_size = struct.unpack_from(">Q", header, 8)[0], 16
        elif box_size == 0:
            box_size = size - offset
        name = box_type.decode("latin-1")
        if box_size < header_size or not all(0x20 <= c <= 0x7E for c in box_type):
            raise InvalidMediaError(f"The file is corrupt: malformed box {name!r} at byte {offset}")
        if offset + box_size > size:
            raise InvalidMediaError(
                f"The file is truncated: its {name!r} box at byte {offset} needs {box_size} bytes "
                f"but the file ends {size - offset} bytes later",
                details={"box": name, "offset": offset, "boxSize": box_size, "fileSize": size},
            )
        boxes.append(Box(name, offset, box_size))
        offset += box_size
    if not any(box.type == "moov" for box in boxes):
        raise InvalidMediaError(
            "The file has no 'moov' box (the index of its media): it is truncated or was never finished",
            details={"boxes": [box.type for box in boxes][:20]},
        )
    return boxes


def check_structure(detected: Detected, read: Callable[[int, int], bytes], size: int) -> None:
    """Check the container structure that can be checked cheaply, reading little.

    - ISO BMFF (mp4, mov, m4a): every top-level box fits in the file and a ``moov`` box exists;
    - RIFF (wav): the declared RIFF size fits in the file;
    - glb: the declared total length fits in the file.

    Parameters
    ----------
    detected:
        What :func:`keyframe.media.detect.detect` found.
    read:
        ``read(offset, length) -> bytes`` on the stored file.
    size:
        The file size in bytes.

    Raises
    ------
    InvalidMediaError
        Truncated or malformed (the message says where).
    """
    if detected.format in ("mp4", "mov", "m4a"):
        walk_boxes(read, size)
    elif detected.format == "wav":
        header = read(0, 12)
        declared = struct.unpack_from("<I", header, 4)[0]
        if header[:4] == b"RIFF" and declared != 0xFFFFFFFF and declared + 8 > size:
            raise InvalidMediaError(
                f"The file is truncated: its RIFF header announces {declared + 8} bytes but it has {size}"
            )
    elif detected.format == "glb":
        declared = struct.unpack_from("<I", read(0, 12), 8)[0]
        if declared > size:
            raise InvalidMediaError(
                f"The file is truncated: its glTF header announces {declared} bytes but it has {size}"
            )

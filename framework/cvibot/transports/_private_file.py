"""Files that hold a conversation (recordings, replay output) are written owner-only.

What a conversation carries (what users said, tool arguments and results) is nobody
else's business, so such files are never readable by the group or others, whatever the
umask: a new file is created ``0600`` in one step (``os.open`` with ``O_CREAT``, so it
is never briefly wider); an existing regular file is truncated and loses its group and
other permission bits (its owner bits stay: never wider than it was, never wider than
``0600``). Other paths (``/dev/null``, a FIFO) are written as they are.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["PRIVATE_MODE", "open_private"]

PRIVATE_MODE = 0o600
"""The permission bits of a file :func:`open_private` creates."""


def open_private(path: Path) -> BinaryIO:
    """Create or truncate ``path`` for writing bytes, readable by its owner only (see
    the module docstring). Raises ``OSError`` as ``open`` does; the parent folder must
    exist."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, PRIVATE_MODE)
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & ~PRIVATE_MODE:
            os.fchmod(fd, stat.S_IMODE(info.st_mode) & PRIVATE_MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise

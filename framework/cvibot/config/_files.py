"""Read a text file that a config names, refusing what is not a plain file of sane size.

A path may name something that is not a regular file: a directory, a named pipe (reading
it blocks until a writer appears), a device (``/dev/zero`` never ends, ``/dev/stdin``
waits for a terminal) or a socket. :func:`read_text_file` refuses those before opening
them, opens without blocking and checks again what it opened (the path may change in
between), and reads at most ``max_bytes`` so that a huge file is an error rather than
all of memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cvibot._errors import ConfigError

__all__ = ["MAX_FILE_BYTES", "read_text_file"]

MAX_FILE_BYTES = 8 * 1024 * 1024
"""Default size limit of :func:`read_text_file`, in bytes (8 MiB)."""

# Not a blocking open on a FIFO that was swapped in after the check; 0 where unknown.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def read_text_file(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, what: str = "file") -> str:
    """The text of the UTF-8 file at ``path`` (a leading BOM is dropped).

    ``what`` names the file in messages (``"config file"``). Raises
    :class:`~cvibot._errors.ConfigError` naming the file (and for bad UTF-8 the line)
    when it does not exist, cannot be read, is not a regular file (a directory, FIFO,
    device or socket), is larger than ``max_bytes`` bytes, or is not UTF-8.
    """
    file = Path(path)
    try:
        _check(os.stat(file).st_mode, file, what)
        fd = os.open(file, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError("file not found", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=file) from None
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            _check(info.st_mode, file, what)
            _check_size(info.st_size, max_bytes, file)
            data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read the file: {exc.strerror or exc}", file=file) from None
    _check_size(len(data), max_bytes, file)  # it may have grown since the fstat
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        decoded = bytes(exc.object)  # the data after a BOM, which exc.start counts in
        line = decoded[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text (byte 0x{decoded[exc.start]:02x})", file=file, line=line
        ) from None


def _check(mode: int, file: Path, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        kind = "a directory"
    elif stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "a special file"
    raise ConfigError(f"is {kind}, not a {what}", file=file)


def _check_size(size: int, max_bytes: int, file: Path) -> None:
    if size > max_bytes:
        raise ConfigError(f"the file is too large: over {max_bytes:,} bytes (the limit)", file=file)

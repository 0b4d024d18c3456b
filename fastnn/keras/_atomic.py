"""Atomic file writes: write a temporary file beside the target, then rename.

A crash or an error during the write leaves the old file (if any) intact.
"""
import os
import tempfile


def write_with(path, writer):
    """Call ``writer(fileobj)`` on a temporary file, then move it to ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_bytes(path, data):
    write_with(path, lambda fh: fh.write(data))

"""Atomic file writes for fastnn.keras (checkpoints, saved models, CSV logs).

The work is done by ``fastnn.io``'s writer: a temporary file beside the
target, fsync, then ``os.replace``; a failed write leaves the old file intact.
Here the target's directory is created first, as Keras' ModelCheckpoint does.
"""
import os

from ..io import atomic_write


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically, creating its directory if needed."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, lambda fh: fh.write(data))

"""Atomic file writes for fastnn.keras (checkpoints, saved models, CSV logs).

The one implementation is :mod:`fastnn._atomic` (also ``fastnn.io.atomic_write``):
a temporary file beside the target, fsync, then ``os.replace``; a failed
write leaves the old file intact, and a completed one removes temp files of
earlier killed saves to the same path. ``write_bytes`` creates the target's
directory first, as Keras' ModelCheckpoint does.
"""
from .._atomic import atomic_write, write_bytes

__all__ = ["write_bytes", "atomic_write"]

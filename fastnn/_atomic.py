"""fastnn's one atomic file writer (parameter files, IDX files, plots, CSV logs, Keras saves).

``atomic_write(path, write)`` writes through a temporary file in the target's
directory, syncs it, and renames it over the target with ``os.replace``: a
reader sees the old file or the new one, never a half-written one, and a
failed or interrupted write (an exception, Ctrl-C, ``kill -9``, a power cut
before the rename) leaves the old file as it was.

Temporary files are named ``.<target>.fastnn-<host>-<pid>-<random>.tmp``.
A writer killed with ``kill -9`` cannot remove its own temporary file, so
every completed save to a path removes the temporary files of earlier saves
to that same path whose writer process is gone (same host tag, pid no
longer running). Files fastnn did not name this way, and temporary files of
writers that are still running, are never touched.

``fastnn.io.atomic_write`` and ``fastnn.keras._atomic`` (``write_bytes``,
``atomic_write``) are this module's functions under their older import paths.
"""
import os
import re
import secrets
import socket
import zlib

__all__ = ["atomic_write", "write_bytes", "temp_files_of"]

#: Longest part of the target's name kept in a temp file's name (the whole
#: temp name must fit the usual 255-byte limit of a file name).
_NAME_KEEP = 120


def _host_tag():
    """8 hex digits naming this machine (pids mean nothing on another host sharing the folder)."""
    return format(zlib.crc32(socket.gethostname().encode("utf-8", "replace")), "08x")


def _temp_prefix(path):
    return "." + os.path.basename(path)[:_NAME_KEEP] + ".fastnn-"


_TEMP_TAIL = re.compile(r"([0-9a-f]{8})-([0-9]+)-[0-9a-f]{16}\.tmp\Z")


def temp_files_of(path):
    """The fastnn temp files beside ``path``: a list of (file name, host tag, pid)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return found
    for name in names:
        if not name.startswith(prefix):
            continue
        match = _TEMP_TAIL.match(name, len(prefix))
        if match:
            found.append((name, match.group(1), int(match.group(2))))
    return found


def _process_gone(pid):
    """True if no process ``pid`` runs on this machine (a live one of another user counts as running)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _remove_stale_temps(path):
    """Remove temp files of earlier, killed saves to ``path`` (see the module's docstring)."""
    directory = os.path.dirname(os.path.abspath(path))
    host, me = _host_tag(), os.getpid()
    for name, tag, pid in temp_files_of(path):
        if tag != host or pid == me or not _process_gone(pid):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:  # gone already (another writer cleaned up), or not ours to remove
            pass


def _new_file_mode(path):
    """Permissions for the written file: the old file's, else 0o666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _open_temp(path):
    """Create a new temp file beside ``path``; return (fd, temp path)."""
    directory = os.path.dirname(os.path.abspath(path))
    stem = _temp_prefix(path) + f"{_host_tag()}-{os.getpid()}-"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, stem + secrets.token_hex(8) + ".tmp")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"atomic_write: could not create a temporary file beside {path}")


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temp file beside ``path``, then rename it over ``path``.

    ``write`` receives a binary file object. The temp file is synced to disk
    before the rename and gets the old file's permissions (or the umask's).
    On any exception (KeyboardInterrupt included) the temp file is removed,
    ``path`` is left as it was, and the exception propagates. After a
    completed write, temp files left beside ``path`` by killed writers are
    removed.
    """
    path = os.fspath(path)
    mode = _new_file_mode(path)
    fd, tmp = _open_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _remove_stale_temps(path)


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically, creating its directory if needed."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(path, lambda fh: fh.write(data))

"""Download a dataset's files into the cache, SHA-256 verified, with pooch.

pooch streams each file into a temporary file in the destination directory,
checks its SHA-256, and only then moves it to its final name; on a hash
mismatch or a broken transfer the temporary file is deleted. So the cache
never holds a partial or corrupt file under a real name.
"""
import logging
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import DownloadError
from .sources import ROLES

__all__ = ["download_files", "USER_AGENT", "TIMEOUT"]


def _user_agent():
    from .. import __version__

    return f"fastnn/{__version__} (dataset loader; +https://pypi.org/project/fastnn/)"


USER_AGENT = _user_agent()
# (connect, read) seconds for each request: a dead mirror fails fast.
TIMEOUT = (5, 60)
# A mirror that could not be reached is not tried again by this process for this
# many seconds: an offline machine pays for the failed look-ups once, not on every call.
RETRY_AFTER = 600.0
_UNREACHABLE = {}  # mirror -> (reason, time.monotonic() of the failure)


def _describe(exc):
    """One short line for an exception raised while downloading: for a
    connection failure, its root cause (e.g. the name that did not resolve)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    text = str(reason if reason is not None else exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}"


@contextmanager
def _quiet_pooch(pooch):
    """pooch logs a line per attempt; our error/warning lists them instead."""
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def download_files(spec, destination, roles=ROLES):
    """Download the files of ``spec`` for ``roles`` into ``destination``.

    For each file the mirrors are tried in order; a mirror that cannot be
    reached at all (connection error, timeout) is not tried again for the
    other files, nor by later calls in the next :data:`RETRY_AFTER` seconds. A file already in ``destination`` with the right hash is not
    downloaded again.

    Returns ``{role: Path}``. Raises :class:`DownloadError` (with every failed
    attempt in ``.attempts``) when some file could not be fetched from any mirror.
    """
    import pooch
    import requests

    destination = Path(destination)
    downloader = pooch.HTTPDownloader(
        progressbar=False, headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT
    )
    now = time.monotonic()
    attempts, files = [], {}
    unreachable = {m: why for m, (why, when) in _UNREACHABLE.items() if now - when < RETRY_AFTER}
    for role in roles:
        name = spec.files[role]
        tried = []  # (url, reason) for this file
        for mirror in spec.mirrors:
            url = mirror + name
            if mirror in unreachable:
                tried.append((url, f"skipped, unreachable before ({unreachable[mirror]})"))
                continue
            try:
                with _quiet_pooch(pooch):
                    fetched = pooch.retrieve(
                        url,
                        known_hash="sha256:" + spec.sha256[name],
                        fname=name,
                        path=destination,
                        downloader=downloader,
                    )
                files[role] = Path(fetched)
                _UNREACHABLE.pop(mirror, None)
                break
            except (requests.ConnectionError, requests.Timeout) as exc:
                unreachable[mirror] = _describe(exc)
                _UNREACHABLE[mirror] = (unreachable[mirror], time.monotonic())
                tried.append((url, unreachable[mirror]))
            except (ValueError, OSError, requests.RequestException) as exc:
                # ValueError: pooch's hash mismatch; OSError: cannot write;
                # RequestException: HTTP errors, broken transfers.
                tried.append((url, _describe(exc)))
        attempts.extend(tried)
        if role not in files:
            lines = "\n".join(f"    {url}: {why}" for url, why in tried)
            raise DownloadError(
                f"could not download {name} of {spec.title} into {destination}:\n{lines}",
                attempts,
            )
    return files

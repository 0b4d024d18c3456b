"""The exceptions and warnings of :mod:`fastnn.datasets`."""

__all__ = ["DatasetNotFoundError", "CorruptFileError", "DownloadError", "SampleDataWarning"]


class DatasetNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found and none could be downloaded.

    The message lists every place that was looked at, what was wrong there,
    and how to provide the files.
    """


class CorruptFileError(ValueError):
    """A dataset file exists but cannot be used (truncated, wrong format,
    wrong shape). ``path`` is the file, ``reason`` says what is wrong."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = str(reason)
        super().__init__(f"{self.path}: {self.reason}")


class DownloadError(OSError):
    """Every mirror failed for at least one file. ``attempts`` is a list of
    ``(url, reason)`` pairs, one per failed try."""

    def __init__(self, message, attempts):
        self.attempts = list(attempts)
        super().__init__(message)


class SampleDataWarning(UserWarning):
    """``load_mnist`` served the small MNIST sample bundled with fastnn
    instead of the full dataset.

    The message is one line; ``details`` holds the full report (every place
    looked at, each download failure, how to provide the files), also
    returned by :func:`fastnn.datasets.lookup_report`. It is issued once per
    process.
    """

    def __init__(self, message, details=""):
        super().__init__(message)
        self.details = details

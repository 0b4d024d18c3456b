"""One rule for damaged files: whatever a parser trips over becomes a ValueError naming the file."""
import contextlib
import struct
import tokenize
import zipfile

#: What h5py, zipfile and the .npy reader raise on damaged or foreign bytes.
_DAMAGE = (OSError, RuntimeError, KeyError, IndexError, TypeError, AttributeError, UnicodeDecodeError,
           NotImplementedError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, struct.error, OverflowError,
           SyntaxError, tokenize.TokenError)   # the last two: NumPy parsing a damaged .npy header


@contextlib.contextmanager
def damaged_file(what, path):
    """Turn a parser's error inside the block into ``ValueError('<what>: <path> is damaged ...')``."""
    try:
        yield
    except FileNotFoundError:
        raise
    except _DAMAGE as exc:
        raise ValueError(f"{what}: {path} is damaged or not a Keras/fastnn file "
                         f"({type(exc).__name__}: {exc})") from None

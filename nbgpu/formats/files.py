"""Reading inputs and writing outputs: the errors that name the flag and file, and atomic writes.

nanoBragg writes straight into the final name; a drop-in should never leave a half-written file
behind, so every file is written to a temporary name beside it and renamed into place.
"""
import os

from .._nbcore import ffi
from ..errors import InputError


def strerror(err: OSError) -> str:
    return err.strerror or str(err)


def open_error(flag: str, path, err: OSError) -> InputError:
    return InputError(f"{flag} {path}: cannot open ({strerror(err)})")


def read_input(path, flag: str) -> bytes:
    """Whole content of an input file, or InputError naming the flag."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise open_error(flag, path, err) from err


def checked_pixels(array, dtype, count: int, what: str):
    """The pixels as written: a C array as it is, anything else as a numpy array in native
    byte order and C order, after checking its type and size."""
    if isinstance(array, ffi.CData):
        if count is not None and len(array) != count:
            raise ValueError(f"{what} has {len(array)} pixels, expected {count}")
        return array
    import numpy as np
    array = np.asarray(array)
    want = np.dtype(dtype)
    if array.dtype.kind != want.kind or array.dtype.itemsize != want.itemsize:
        raise TypeError(f"{what} must be {want.name}, not {array.dtype}")
    if count is not None and array.size != count:
        raise ValueError(f"{what} has {array.size} pixels, expected {count}")
    return np.ascontiguousarray(array, dtype=want)


def as_bytes_view(part):
    """A writable-to-file view of one chunk: bytes, a C array, or a numpy array."""
    if isinstance(part, ffi.CData):
        return ffi.buffer(part)
    if type(part).__module__ == "numpy":
        return checked_pixels(part, part.dtype, None, "data").reshape(-1).view("uint8")
    return part


def atomic_write(path, parts):
    """Write the chunks to a temporary file beside `path`, then rename it into place.

    nanoBragg writes straight into the final name; a drop-in should never leave a half-written
    image behind, so the final name only ever holds a complete file.
    """
    atomic_write_all([(path, parts)])


def temporary_name(path) -> str:
    """A new name beside `path` for writing it (hidden, unique to this process and call)."""
    directory, base = os.path.split(os.fspath(path))
    return os.path.join(directory, f".{base[:200]}.{os.getpid()}.{os.urandom(6).hex()}.tmp")


def temporary_pattern(path) -> str:
    """A glob matching every temporary_name of `path` (what a killed writer may leave)."""
    import glob
    directory, base = os.path.split(os.fspath(path))
    return os.path.join(glob.escape(directory), f".{glob.escape(base[:200])}.*.tmp")


def create_exclusively(tmp):
    """The file descriptor of a new file; mode 0666, so the kernel applies the umask, as for
    nanoBragg's fopen."""
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


def atomic_write_all(files):
    """Several files, all or none: every one is written to a temporary name first, and only
    when all are complete are they renamed into place (a failure leaves no new file).  A file's
    content is a list of chunks, or a function that writes the file at the path it is given
    (for writers that open files themselves, like h5py)."""
    written = []
    try:
        for path, parts in files:
            path = os.fspath(path)
            tmp = temporary_name(path)
            try:
                fd = create_exclusively(tmp)
                written.append((tmp, path))
                with os.fdopen(fd, "wb") as f:
                    if not callable(parts):
                        for part in parts:
                            f.write(as_bytes_view(part))
                if callable(parts):
                    parts(tmp)
            except OSError as err:
                raise InputError(f"cannot write {path}: {strerror(err)}") from err
        for tmp, path in written:
            try:
                os.replace(tmp, path)
            except OSError as err:
                raise InputError(f"cannot write {path}: {strerror(err)}") from err
        written = []
    finally:
        for tmp, _ in written:
            try:
                os.unlink(tmp)
            except OSError:
                pass

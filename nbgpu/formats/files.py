"""Reading inputs and writing outputs: the errors that name the flag and file, and the one rule
every output file is written by.

The rule: an output goes where its name points, symlinks followed.  A new file, or a regular
file that only this name leads to, is written to a temporary name beside it and renamed into
place once every output of the run is complete: its name never holds a half-written image, and
it keeps its permission bits and owner.  Anything else is written through in place, as
nanoBragg writes it: a device or FIFO (renaming over /dev/null would make it a regular file for
the whole machine), a file with other hard links (a rename would break them), or a file in a
folder we may not write in.
"""
import os
import stat

from .._nbcore import ffi
from ..errors import InputError
from ..records import Record

TEMPORARY_STEM_BYTES = 200        # of the final name kept in a temporary one (names are <= 255 bytes)
STREAM_CHUNK = 1 << 20            # bytes read at a time from an input that is not a regular file
STREAM_HEAD = 2 << 20             # of them, what a format may need to tell its size


def strerror(err: OSError) -> str:
    return err.strerror or str(err)


def open_error(flag: str, path, err: OSError) -> InputError:
    return InputError(f"{flag} {path}: cannot open ({strerror(err)})")


def write_error(path, err: OSError) -> InputError:
    return InputError(f"cannot write {path}: {strerror(err)}")


# ---------------------------------------------------------------------------------------- inputs

def is_stream(handle) -> bool:
    """Whether an open file is not a regular file (a device, FIFO or socket: its size says
    nothing and it may never end)."""
    return not stat.S_ISREG(os.fstat(handle.fileno()).st_mode)


def read_stream(handle, flag: str, path, text: bool, size_of=None) -> bytes:
    """What a device or FIFO gives until it ends (or, with size_of, until the size that its
    first bytes promise), read a chunk at a time: a text input that holds a NUL byte
    (/dev/zero, /dev/urandom) is refused at once, and so is any stream that would take more
    than half the free memory, before it does."""
    from ..memory import available_memory
    limit = (available_memory() or 1 << 34) // 2
    data, need = bytearray(), None
    while need is None or len(data) < need:
        chunk = handle.read(STREAM_CHUNK if need is None else min(STREAM_CHUNK, need - len(data)))
        if not chunk:
            break
        if text and b"\0" in chunk:
            raise InputError(f"{flag} {path}: binary data (a NUL byte) in a text input")
        data += chunk
        if need is None and size_of is not None:
            need = size_of(bytes(data[:STREAM_HEAD]))
        if max(len(data), need or 0) > limit:
            raise InputError(f"{flag} {path}: more than {limit / 2**30:.1f} GiB from a device or pipe "
                             "(half the free memory): does it ever end?")
    return bytes(data)


def read_input(path, flag: str, text: bool = True, size_of=None) -> bytes:
    """Whole content of an input file, or InputError naming the flag; a device or FIFO is read
    as read_stream reads it (text: the input is text, never NUL bytes; size_of: the size its
    first bytes promise)."""
    try:
        with open(path, "rb") as handle:
            if is_stream(handle):
                return read_stream(handle, flag, path, text, size_of)
            return handle.read()
    except OSError as err:
        raise open_error(flag, path, err) from err


# --------------------------------------------------------------------------------------- outputs

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


class Destination(Record):
    """Where an output's bytes go, by the rule above."""
    target: str                   # the name with every symlink followed
    through: bool                 # written in place rather than replaced
    replaced: object = None       # os.stat_result of the regular file replaced (its mode and owner are kept)


def destination(path) -> Destination:
    """The rule, for one output name (OSError when the name cannot be looked at)."""
    target = os.path.realpath(os.fspath(path))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return Destination(target=target, through=False)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", os.fspath(path))
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1 or not folder_writable(target):
        return Destination(target=target, through=True)
    return Destination(target=target, through=False, replaced=st)


def file_key(path):
    """One key for every name of one file: its device and inode when it exists, else the name
    with symlinks followed (so `f.bin`, `./lnk/f.bin` and a hard link of it are one file)."""
    target = os.path.realpath(os.fspath(path))
    try:
        st = os.stat(target)
    except OSError:
        return ("name", target)
    return ("inode", st.st_dev, st.st_ino)


def folder_writable(path) -> bool:
    folder = os.path.dirname(path) or "."
    return os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)


def unwritable(path) -> str | None:
    """Why `path` cannot be written as an output (checked before rendering), or None."""
    name = os.fspath(path)
    if not name:
        return "empty file name"
    try:
        dest = destination(name)
    except OSError as err:
        return strerror(err).lower()
    folder = os.path.dirname(dest.target)
    if os.path.lexists(dest.target):
        if not os.access(dest.target, os.W_OK):
            return "permission denied"
        return None
    if not folder_writable(dest.target):
        return f"cannot write in {folder}"
    return None


def temporary_stem(base: str) -> str:
    """The start of the final name that temporary names carry: whole characters, at most
    TEMPORARY_STEM_BYTES bytes (a file name's limit is in bytes, not characters)."""
    while len(os.fsencode(base)) > TEMPORARY_STEM_BYTES:
        base = base[:-1]
    return base


def temporary_name(path) -> str:
    """A new name beside `path` for writing it (hidden, unique to this process and call)."""
    directory, base = os.path.split(os.fspath(path))
    return os.path.join(directory, f".{temporary_stem(base)}.{os.getpid()}.{os.urandom(6).hex()}.tmp")


def temporary_pattern(path) -> str:
    """A glob matching every temporary_name of `path` (what a killed writer may leave)."""
    import glob
    directory, base = os.path.split(os.fspath(path))
    return os.path.join(glob.escape(directory), f".{glob.escape(temporary_stem(base))}.*.tmp")


def create_exclusively(tmp):
    """The file descriptor of a new file; mode 0666, so the kernel applies the umask, as for
    nanoBragg's fopen."""
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


def write_chunks(fd, parts):
    with os.fdopen(fd, "wb") as handle:
        for part in parts:
            handle.write(as_bytes_view(part))


def file_chunks(path):
    with open(path, "rb") as handle:
        while chunk := handle.read(STREAM_CHUNK):
            yield chunk


class Staged:
    """One output being written: its bytes go to a temporary file (or, for a destination written
    through, stay in memory) until commit() puts them where its name points; discard() leaves
    nothing behind.  Raises InputError naming the output."""

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            self.dest = destination(self.path)
        except OSError as err:
            raise write_error(self.path, err) from err
        self.tmp, self.parts = None, None

    def temporary(self) -> str:
        """A new empty file to write the output into: beside the file it replaces, or (for a
        destination written through) in the temporary folder, copied through at commit."""
        try:
            if self.dest.through:
                import tempfile
                fd, self.tmp = tempfile.mkstemp(prefix=".nbgpu.", suffix=".tmp")
            else:
                self.tmp = temporary_name(self.dest.target)
                fd = create_exclusively(self.tmp)
            os.close(fd)
        except OSError as err:
            raise write_error(self.path, err) from err
        return self.tmp

    def write(self, parts):
        """The output's content: a list of chunks, or a function that writes the file at the
        path it is given (writers that open files themselves, like h5py)."""
        try:
            if callable(parts):
                parts(self.temporary())
            elif self.dest.through:
                self.parts = parts
            else:
                write_chunks(os.open(self.temporary(), os.O_WRONLY | getattr(os, "O_BINARY", 0)), parts)
        except OSError as err:
            raise write_error(self.path, err) from err

    def commit(self):
        try:
            if self.dest.through:
                fd = os.open(self.dest.target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0),
                             0o666)
                write_chunks(fd, self.parts if self.tmp is None else file_chunks(self.tmp))
            else:
                if self.dest.replaced is not None:
                    keep_mode_and_owner(self.tmp, self.dest.replaced)
                os.replace(self.tmp, self.dest.target)
                self.tmp = None
        except OSError as err:
            raise write_error(self.path, err) from err
        finally:
            self.discard()

    def discard(self):
        self.parts = None
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


def keep_mode_and_owner(tmp, replaced: os.stat_result):
    """The replacing file gets the permission bits (and, where we may, the owner) of the file
    it replaces, as writing over it in place would have kept them."""
    os.chmod(tmp, stat.S_IMODE(replaced.st_mode))
    if (replaced.st_uid, replaced.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.chown(tmp, replaced.st_uid, replaced.st_gid)
        except OSError:
            pass


def save_files(files):
    """Several outputs, all or none: every one is written first (to a temporary name, or kept
    in memory for one written through), and only when all are complete do they go where their
    names point, in order.  files: [(path, list of chunks or a function writing a path)]."""
    staged = []
    try:
        for path, parts in files:
            staged.append(Staged(path))
            staged[-1].write(parts)
        for output in staged:
            output.commit()
    finally:
        for output in staged:
            output.discard()


def save_file(path, parts):
    """One output, by the rule above."""
    save_files([(path, parts)])

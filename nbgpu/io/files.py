"""Reading inputs and writing outputs: the errors that name the flag and file, and the one rule
every output file is written by.

The rule: a new file, or a regular file of ours that only this name leads to, is written to a
temporary name beside it and renamed into place once every output of the run is complete: its
name never holds a half-written image, and it keeps its permission bits.  Anything else is
written through in place, by opening the name as nanoBragg's fopen opens it, once every output
is complete: a symlink (the kernel follows it, with its protections for links in shared
folders), a device or FIFO (renaming over /dev/null would make it a regular file for the whole
machine), a file with other hard links (a rename would break them), another user's file, or a
file in a folder we may not write in.
"""
import os
import re
import stat

from nbgpu._nbcore import ffi
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record

TEMPORARY_STEM_BYTES = 200        # of the final name kept in a temporary one (names are <= 255 bytes)
STREAM_CHUNK = 1 << 20            # bytes read at a time from an input that is not a regular file
STREAM_HEAD = 2 << 20             # of them, what a format may need to tell its size


def strerror(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)


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
    from nbgpu.base.memory import available_memory
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


def read_input(path, flag: str, text: bool = True, size_of=None, mapped: bool = False) -> bytes:
    """Whole content of an input file, or InputError naming the flag; a device or FIFO is read
    as read_stream reads it (text: the input is text, never NUL bytes; size_of: the size its
    first bytes promise).  mapped: a non-empty regular file comes back mapped read-only (an
    mmap, a buffer like bytes: no copy; outputs replace files by renaming, so even one written
    over the input leaves the mapping as it was)."""
    try:
        with open(path, "rb") as handle:
            if is_stream(handle):
                return read_stream(handle, flag, path, text, size_of)
            if mapped:
                import mmap
                try:
                    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
                except (OSError, ValueError):       # empty, or not mappable: read as usual
                    pass
            return handle.read()
    except (OSError, ValueError) as err:         # ValueError: a NUL byte in the name
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
    """How an output's bytes reach its name, by the rule above."""
    through: bool                 # written in place rather than replaced
    replaced: object = None       # os.stat_result of the regular file replaced (its mode and owner are kept)


def destination(path) -> Destination:
    """The rule, for one output name (OSError or ValueError when the name cannot be looked at).

    A symlink is never resolved here: it is written through by opening the name the user gave,
    so the kernel follows it, with its protections for links in shared folders."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Destination(through=False)
    link = stat.S_ISLNK(st.st_mode)
    if link:
        try:
            st = os.stat(path)
        except FileNotFoundError:         # dangling: opening it creates its target
            return Destination(through=True)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", os.fspath(path))
    ours = os.geteuid() in (0, st.st_uid)           # replacing another user's file would make it ours
    if not link and stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and ours and folder_writable(path):
        return Destination(through=False, replaced=st)
    return Destination(through=True)


def file_key(path):
    """One key for every name of one regular file: its device and inode when it exists, else
    the name with symlinks followed (so `f.bin`, `lnk/f.bin` and a hard link of it are one
    file); None for a device or FIFO, which many outputs may share."""
    try:
        target = os.path.realpath(os.fspath(path))
        st = os.stat(target)
    except ValueError:                    # a NUL byte: no file at all
        return ("name", os.fspath(path))
    except OSError:
        return ("name", target)
    return ("inode", st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def check_output(flag: str, name):
    """InputError naming the flag when `name` cannot be written as an output."""
    problem = unwritable(name)
    if problem:
        raise InputError(f"{flag} {name}: {problem}" if name else f"{flag}: {problem}")


def folder_writable(path) -> bool:
    folder = os.path.dirname(os.fspath(path)) or "."
    return os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)


def unwritable(path) -> str | None:
    """Why `path` cannot be written as an output (checked before rendering), or None."""
    name = os.fspath(path)
    if not name:
        return "empty file name"
    try:
        dest = destination(name)
        exists = os.path.exists(name)
    except (OSError, ValueError) as err:
        return strerror(err).lower() if isinstance(err, OSError) else "not a file name (a NUL byte)"
    if exists:
        return None if os.access(name, os.W_OK) else "permission denied"
    target = os.path.realpath(name) if dest.through else os.path.abspath(name)    # a dangling link's target
    if not folder_writable(target):
        return f"cannot write in {os.path.dirname(target)}"
    return None


TEMPORARY = re.compile(r"\.(?P<stem>.*)\.(?P<pid>\d+)\.[0-9a-f]{12}\.tmp\Z", re.DOTALL)


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


def leftover_temporaries(path) -> list[str]:
    """Temporary names of `path` whose writer is no longer running on this machine (what a
    killed writer left); never a final name, nor another output's temporary."""
    directory, base = os.path.split(os.path.abspath(os.fspath(path)))
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in names:
        match = TEMPORARY.match(name)
        if match and match["stem"] == temporary_stem(base) and not process_alive(int(match["pid"])):
            found.append(os.path.join(directory, name))
    return found


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def create_exclusively(tmp):
    """The file descriptor of a new file; mode 0666, so the kernel applies the umask, as for
    nanoBragg's fopen."""
    return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)


def write_chunks(handle, parts):
    """Every chunk, whole (an unbuffered file may take part of one at a time)."""
    for part in parts:
        view = memoryview(as_bytes_view(part)).cast("B")
        while view:
            view = view[handle.write(view):]


class Staged:
    """One output being written: its bytes go to a scratch file that only this process holds
    (a new file beside the one it replaces, or an unnamed file for a destination written
    through) or, for chunks in memory going through, nowhere yet; commit() puts them where the
    name points, discard() leaves nothing behind.  Raises InputError naming the output."""

    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            self.dest = destination(self.path)
        except (OSError, ValueError) as err:
            raise write_error(self.path, err) from err
        self.handle = self.tmp = self.parts = None

    def scratch(self):
        """The open (read, write, seek) unbuffered binary file to write the output into."""
        try:
            if self.dest.through:
                import tempfile
                self.handle = tempfile.TemporaryFile(buffering=0)
            else:
                self.tmp = temporary_name(self.path)
                self.handle = os.fdopen(create_exclusively(self.tmp), "w+b", buffering=0)
        except OSError as err:
            raise write_error(self.path, err) from err
        return self.handle

    def write(self, parts):
        """The output's content: a list of chunks, or a function that writes the file it is
        given (open, binary, seekable: writers that need a file of their own, like h5py)."""
        try:
            if callable(parts):
                parts(self.scratch())
            elif self.dest.through:
                self.parts = parts
            else:
                write_chunks(self.scratch(), parts)
        except OSError as err:
            raise write_error(self.path, err) from err

    def commit(self):
        try:
            if self.dest.through:
                self.write_through()
            else:
                self.replace()
        except OSError as err:
            raise write_error(self.path, err) from err
        finally:
            self.discard()

    def write_through(self):
        """Opened by the name given, as nanoBragg's fopen opens it (the kernel follows links)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as out:
            if self.handle is None:
                write_chunks(out, self.parts)
            else:
                self.handle.seek(0)
                while chunk := self.handle.read(STREAM_CHUNK):
                    out.write(chunk)

    def replace(self):
        """The scratch file, made to look like the file it replaces (through its descriptor),
        renamed over the name, once the name is checked to still be that scratch file."""
        fd = self.handle.fileno()
        if self.dest.replaced is not None:
            keep_mode_and_owner(fd, self.dest.replaced)
        mine, there = os.fstat(fd), os.lstat(self.tmp)
        if (there.st_dev, there.st_ino) != (mine.st_dev, mine.st_ino):
            raise OSError(17, "its temporary file was replaced by someone else")
        os.replace(self.tmp, self.path)
        self.tmp = None

    def discard(self):
        self.parts = None
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError:
                pass
            self.handle = None
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
            self.tmp = None


def keep_mode_and_owner(fd, replaced: os.stat_result):
    """The replacing file gets the permission bits (and, for root, the owner) of the file it
    replaces, as writing over it in place would have kept them."""
    os.fchmod(fd, stat.S_IMODE(replaced.st_mode))
    if (replaced.st_uid, replaced.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(fd, replaced.st_uid, replaced.st_gid)
        except OSError:
            pass


def save_files(files):
    """Several outputs, all or none: every one is written first (to a temporary name, or kept
    in memory for one written through), and only when all are complete do they go where their
    names point, in order.  files: [(path, list of chunks, or a function that writes the open
    file it is given)]."""
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


class StagedFiles:
    """save_files in steps, for outputs ready at different times: stage() writes some to their
    scratch files now (say, while other work runs), finish() writes the rest and puts them all
    where their names point, in the order staged; discard() (after a failure) leaves nothing.
    All or none, as save_files."""

    def __init__(self):
        self.staged = []

    def stage(self, files):
        for path, parts in files:
            self.staged.append(Staged(path))
            self.staged[-1].write(parts)

    def finish(self, files=()):
        try:
            self.stage(files)
            for output in self.staged:
                output.commit()
        finally:
            self.discard()

    def discard(self):
        for output in self.staged:
            output.discard()


def save_file(path, parts):
    """One output, by the rule above."""
    save_files([(path, parts)])

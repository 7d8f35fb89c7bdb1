"""Input files and tables kept between the runs of one process (nbgpu.Simulator, nbgpu batch).

A file is read again only when it changed: an entry is keyed on the file's path, size,
modification and change times and inode (an atomic rename, as every nbgpu output is written,
makes a new inode; the change time moves on any write, even `cp -p`, which keeps the
modification time), and on the reader's own arguments.  A file changed so recently that a
second change could leave all of those as they were is also checked by its content (a
digest) until it has settled; a device or FIFO is never kept (each read may give other bytes).
What the reader printed the first time is printed again on every use, so each run's log is the
one a fresh process would print.
"""
import os
import stat
import time

SETTLED_NS = 2_000_000_000       # time stamps further back than this from a read are trusted
KEPT_RESULTS = 4                 # results computed from one value read (a model's Fcalc grids), latest first


def identity(path):
    """What tells one version of a file from another; None when it cannot be stat'ed or is not
    a regular file (then the reader runs, and says why)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def settled(version, now_ns) -> bool:
    """Whether the version's time stamps lie far enough before now_ns that any later change
    must move them (time stamps are only as fine as the file system's clock)."""
    return max(version[2], version[3]) < now_ns - SETTLED_NS


def digest(path):
    """A hash of the file's bytes, or None when it cannot be read."""
    import hashlib
    h = hashlib.blake2b(digest_size=20)
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                h.update(chunk)
    except OSError:
        return None
    return h.digest()


def told_to(work, log):
    """(work(say), the lines it said through `say`), the lines passed on to `log` too, also when
    work raises: what the cache keeps to say again when it gives the value a second time."""
    lines = []
    try:
        return work(lambda text, flush=False: lines.append(text)), lines
    finally:
        for text in lines:
            log(text)


class InputCache:
    """Parsed input files (HKL, Fdump, SMV headers and pixels, models), what was computed from
    them (a model's Fcalc), dump files already written, and the problem's tables of the
    previous run."""

    def __init__(self):
        self._read = {}         # (reader, path, extra arguments) -> (file identity, digest or None, value, log lines)
        self._written = {}      # dump path -> (what was written, file identity after writing, log text)
        self._derived = {}      # table name -> (what it was built from, the table)
        self._computed = {}     # (build, id of a value read, arguments) -> (that value, result, log lines)

    def read(self, reader, path, *args, log):
        """reader(path, *args, log), or its value from an earlier call on the same version of
        the file (one version per file is kept)."""
        version = identity(path)
        if version is None:
            return reader(path, *args, log)
        key = (reader, version[0], args)
        now = time.time_ns()
        kept = self._read.get(key)
        if kept is not None and kept[0] == version and (kept[1] is None or kept[1] == digest(path)):
            if kept[1] is not None and settled(version, now):
                self._read[key] = (version, None) + kept[2:]      # verified, and settled since
            for text in kept[3]:
                log(text)
            return kept[2]
        fingerprint = None if settled(version, now) else digest(path)      # taken before reading
        value, lines = told_to(lambda say: reader(path, *args, say), log)
        self._read[key] = (version, fingerprint, value, lines)
        return value

    def write_dump(self, writer, path, sf, log):
        """writer(path, sf, log) unless this process already wrote these structure factors to
        that file and it is unchanged since (its bytes would be the same); the log line is
        printed either way."""
        previous = self._written.get(os.path.abspath(path))
        if previous is not None and previous[0] is sf and previous[1] == identity(path):
            log(previous[2])
            return
        lines = []
        writer(path, sf, lambda text, flush=False: lines.append(text))
        for text in lines:
            log(text)
        self._written[os.path.abspath(path)] = (sf, identity(path), "".join(lines))

    def computed(self, build, source, *args, log):
        """build(source, *args, log), or its result from an earlier call on the same `source`
        (a value this cache read: the same version of its file) with the same arguments; what
        it printed is printed again.  Results of values no longer kept are dropped, and of each
        value only the KEPT_RESULTS used last are kept (a batch sweeping the distance asks for
        a new resolution on every line)."""
        key = (build, id(source), args)
        kept = self._computed.pop(key, None)
        if kept is not None and kept[0] is source:
            self._computed[key] = kept                   # the latest used, last
            for text in kept[2]:
                log(text)
            return kept[1]
        value, lines = told_to(lambda say: build(source, *args, say), log)
        held = [entry[2] for entry in self._read.values()]
        self._computed = {key: entry for key, entry in self._computed.items()
                          if any(entry[0] is value_read for value_read in held)}
        self._computed[key] = (source, value, lines)
        same = [other for other, entry in self._computed.items() if entry[0] is source]
        for other in same[:-KEPT_RESULTS]:
            del self._computed[other]
        return value

    def derived(self, name, source, build):
        """build(), or what it built for the previous run whose `source` was the same (the same
        object, or an equal tuple of records): tables are rebuilt only when their
        inputs change, and a table kept stays on the GPU."""
        kept = self._derived.get(name)
        if kept is not None and (kept[0] is source or (isinstance(source, tuple) and kept[0] == source)):
            return kept[1]
        value = build()
        self._derived[name] = (source, value)
        return value


class NoCache:
    """One run: every file is read, every dump written, every table built."""

    @staticmethod
    def derived(name, source, build):
        return build()

    @staticmethod
    def read(reader, path, *args, log):
        return reader(path, *args, log)

    @staticmethod
    def computed(build, source, *args, log):
        return build(source, *args, log)

    @staticmethod
    def write_dump(writer, path, sf, log):
        writer(path, sf, log)

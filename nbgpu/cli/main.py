"""The nbgpu / nanoBragg command.

Two languages share the command: nanoBragg's flags (single dash, matched by nbgpu.setup.flags exactly
as nanoBragg matches them) and a small modern side handled by click (--version, --help).
click is imported only for the latter, so nanoBragg-style calls start fast.
"""
import os
import sys

from nbgpu.base import messages
from nbgpu.base.errors import NbgpuError


class Channel:
    """stdout or stderr, for the run's text.  One that cannot be written (closed, on a full
    disk, a pipe whose reader left) loses the text, never the images: nanoBragg's printf fails
    as quietly.  The first failure is kept, to be reported at the end."""

    def __init__(self, name: str):
        self.name, self.error = name, None

    def write(self, text: str, flush: bool = False):
        if self.error is None:
            try:
                stream = getattr(sys, self.name)
                stream.write(text)
                if flush:
                    stream.flush()
            except (OSError, ValueError) as err:       # ValueError: closed by the Python caller
                self.error = err

    def flush(self):
        self.write("", flush=True)

    def isatty(self) -> bool:
        try:
            return getattr(sys, self.name).isatty()
        except (OSError, ValueError):
            return False


STDOUT, STDERR = Channel("stdout"), Channel("stderr")


def warn(message: str):
    STDERR.write(messages.warning(message) + "\n")


def note(message: str):
    STDERR.write(messages.note(message) + "\n")


def log(text: str, flush: bool = False):
    STDOUT.write(text, flush)


def error_line(text: str):
    STDOUT.flush()
    STDERR.write(text + "\n")


def report_lost_log():
    """One warning when the log could not be written (not for a pipe whose reader stopped
    reading, as `| head` does: that reader wanted no more)."""
    STDOUT.flush()
    if STDOUT.error is not None and not isinstance(STDOUT.error, BrokenPipeError):
        reason = getattr(STDOUT.error, "strerror", None) or STDOUT.error
        warn(f"stdout: the log could not be written ({reason}); the images are complete")


class Terminated(Exception):
    """SIGTERM or SIGHUP, raised where Python notices it so files being written are cleaned up."""

    def __init__(self, signum):
        super().__init__(signum)
        self.status = 128 + signum


def on_termination(signum, frame):
    raise Terminated(signum)


def guarded(work) -> int:
    """work() with the command's error handling: one line on stderr and an exit status for
    bad input (9, nanoBragg's), interrupts, memory, and for a bug of ours."""
    import signal
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None and signal.getsignal(signum) != signal.SIG_IGN:     # nohup's SIGHUP stays ignored
            signal.signal(signum, on_termination)
    try:
        code = work()
    except NbgpuError as exc:
        for line in str(exc).splitlines() or [""]:
            error_line(messages.error(line))
        return exc.exit_code
    except (KeyboardInterrupt, Terminated) as exc:
        error_line(messages.note("interrupted: no image file was left half-written"))
        return 130 if isinstance(exc, KeyboardInterrupt) else exc.status
    except MemoryError:
        error_line(messages.error("out of memory: try a smaller detector, fewer phi steps or mosaic domains"))
        return 9
    except Exception as exc:           # a bug of ours: one line, the traceback only on request
        STDOUT.flush()
        if os.environ.get("NBGPU_DEBUG"):
            raise
        error_line(messages.note(f"internal error: {type(exc).__name__}: {exc} (set NBGPU_DEBUG=1 for the "
                                 "traceback, and please report it)"))
        return 70
    report_lost_log()
    return code or 0


def run_nanobragg(argv) -> int:
    from nbgpu.run.simulate import simulate_argv

    def work():
        simulate_argv(argv, log, warn, note=note)
    return guarded(work)


SUBCOMMANDS = ("bench", "batch", "sf")


def modern(argv) -> int:
    import click

    from nbgpu.base.choices import COMPRESSIONS

    from nbgpu import __version__

    @click.group(context_settings={"help_option_names": ["--help"]}, invoke_without_command=True)
    @click.version_option(__version__, "--version", prog_name="nbgpu")
    @click.pass_context
    def command(ctx):
        """nbgpu: nanoBragg's X-ray diffraction simulator, GPU-first.

        Run it exactly as nanoBragg (single-dash flags, e.g. nbgpu -cell 30 30 30 90 90 90
        -default_F 100 -N 5); see docs/usage.md.
        """
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())

    @command.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
    @click.argument("options", nargs=-1, type=click.UNPROCESSED)
    def bench(options):
        """Time the engines against other nanoBragg programs (options: nbgpu bench --help)."""
        from nbgpu.bench.main import main as bench_main
        return bench_main(list(options))

    @command.command()
    @click.argument("jobs", type=click.Path())
    @click.option("--logs", metavar="DIR", help="Write each job's nanoBragg log to DIR/JOBS.LINE.log.")
    @click.option("--meter", is_flag=True, help="Keep nanoBragg's per-frame progress meter in the logs.")
    @click.option("--resume", is_flag=True, help="Skip jobs whose output files all exist and are complete.")
    @click.option("--nexus", metavar="FILE", help="Also stack every frame (one detector) into one NeXus/NXmx file.")
    @click.option("--nexus-compression", type=click.Choice(COMPRESSIONS), default="auto",
                  help="Compression of --nexus (auto: bitshuffle/LZ4 when hdf5plugin is installed).")
    @click.option("--workers", type=int, metavar="N", help="Render on a local Dask cluster of N worker processes.")
    @click.option("--scheduler", metavar="ADDRESS", help="Render on a running Dask cluster (address or scheduler file).")
    @click.option("--chunk", type=click.IntRange(min=1), default=1, metavar="K",
                  help="With --workers/--scheduler: K consecutive jobs per Dask task (default 1).")
    def batch(jobs, logs, meter, resume, nexus, nexus_compression, workers, scheduler, chunk):
        """Render every nanoBragg command line of JOBS (one per line, # comments) in one process,
        or on Dask workers."""
        from nbgpu.batch.main import run_batch
        return guarded(lambda: run_batch(jobs, logs=logs, meter=meter, resume=resume, warn=warn, note=note,
                                         stream=STDERR, nexus=nexus, nexus_compression=nexus_compression,
                                         workers=workers, scheduler=scheduler, chunk=chunk))

    @command.command()
    @click.argument("source", type=click.Path())
    @click.option("--hkl", metavar="FILE", help="Write the P1 list of h k l F that -hkl reads (nanoBragg's P1.hkl).")
    @click.option("--stol", metavar="FILE", help="Write nonBragg's -stol table of the radially averaged |F|^2.")
    @click.option("--dmin", type=float, metavar="A", help="Resolution limit (needed for a model's Fcalc).")
    @click.option("--column", metavar="LABEL", help="The MTZ/mmCIF amplitude column (as -sf_column).")
    @click.option("--k-sol", "k_sol", type=float, default=0.0, help="A model's flat bulk solvent (e/A^3; 0: none).")
    @click.option("--B-sol", "B_sol", type=float, default=46.0, help="Its B factor (A^2).")
    @click.option("--B-add", "B_add", type=float, default=0.0, help="B added to a model's Fcalc (A^2; negative removes).")
    @click.option("--stol-width", type=float, default=0.001, help="Width of the stol bins (1/A).")
    def sf(source, hkl, stol, dmin, column, k_sol, B_sol, B_add, stol_width):
        """Structure factors of SOURCE (MTZ, SF-mmCIF, or a PDB/mmCIF model) as files: the P1
        text list and the stol table (what mtz_to_P1hkl.com and mtz_to_stol.com make)."""
        from nbgpu.run.export import Export, export
        job = Export(source=source, hkl=hkl, stol=stol, dmin=dmin, column=column, k_sol=k_sol, B_sol=B_sol,
                     B_add=B_add, stol_width=stol_width)
        return guarded(lambda: export(job, log) and 0)

    return command.main(argv, prog_name="nbgpu", standalone_mode=False) or 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and (argv[0].startswith("--") or argv[0] in SUBCOMMANDS):
        try:
            return modern(argv)
        except Exception as exc:       # click's usage errors
            error_line(messages.error(exc))
            return 2
    return run_nanobragg(argv)


def open_standard_streams():
    """stdin, stdout and stderr on /dev/null where they were closed (`>&-`): otherwise the
    next file opened would take their number, and text meant for them would land in it."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:       # Python found it closed at start-up
            setattr(sys, name, open(fd, mode, closefd=False))


def entry():
    """The installed commands (nbgpu, nanoBragg) and `python -m nbgpu`."""
    exit_with(main)


def exit_with(command):
    """An installed command (nbgpu, nonBragg, noisify): command(), then exit at once.  Every
    output file is complete and renamed by then; flushing stdout and stderr is all that is
    left, and skipping the interpreter's teardown (freeing every object, unloading modules)
    takes a visible share off a small run's wall time."""
    open_standard_streams()
    try:
        code = command()
    except SystemExit as exc:    # e.g. `nbgpu bench` refusing its options: as sys.exit would
        if isinstance(exc.code, str):
            STDERR.write(exc.code + "\n")
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    STDOUT.flush()
    STDERR.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()

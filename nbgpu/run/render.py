"""Render the whole image in one engine call while this thread prints nanoBragg's progress meter.

The engine runs in a worker thread (C calls release the GIL) and keeps its nb_render_state
up to date: how many rendered pixels, in nanoBragg's order, have their final value, and,
once it is final, where interpolation was switched off.  From those this thread prints the
meter lines nanoBragg prints as its pixels finish, with the interpolation warning in its
place among them, and turns Ctrl-C or SIGTERM into the cancel flag the render polls.
"""
import _thread

from nbgpu._nbcore import ffi

POLL_SECONDS = 0.05          # how often the meter is brought up to date
_uncleared = ffi.new_allocator(should_clear_after_alloc=False)     # the render writes every pixel


class Rendered:
    """What one render produced: the float image (a C buffer, slow-major) and the state that
    tracing a pixel needs."""
    __slots__ = ("pixels", "fpixels", "spixels", "omega_sum", "first_pixel", "interpolate_off_at",
                 "off_indices", "cpu_level")

    def __init__(self, pixels, fpixels, spixels, state):
        self.pixels, self.fpixels, self.spixels = pixels, fpixels, spixels
        self.omega_sum = state.omega_sum
        self.first_pixel = state.first_pixel     # the pixel that saw the run's first phi sweep (-1: none)
        self.interpolate_off_at = state.off_pixel if state.switched_off else -1
        off = state.off
        self.off_indices = (off.h, off.k, off.l, off.h0, off.k0, off.l0)
        self.cpu_level = state.cpu_used

    def value(self, fpixel, spixel) -> float:
        return self.pixels[spixel * self.fpixels + fpixel]


def progress_marks(total: int, rendered: int) -> list[int]:
    """Values of nanoBragg's progress counter at which it prints "N% done"."""
    if total // 100 <= 0:
        return []
    every20, every100 = total // 20, total // 100
    marks = set(range(0, rendered, every20))
    marks |= {p for p in range(0, rendered, every100) if 10 * p < total or 10 * p > 9 * total}
    return sorted(marks)


def interpolation_warning(h, k, l, h0, k0, l0) -> str:
    """nanoBragg's two warning lines (the second without a newline) at the switch-off."""
    return ("WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: %g,%g,%g,%d,%d,%d \n"
            "WARNING: further warnings will not be printed! " % (h, k, l, h0, k0, l0))


def print_marks(marks, mark, upto, total, log) -> int:
    """Print the meter lines of counter values below `upto` (of nanoBragg's `total`); returns
    the next mark."""
    while mark < len(marks) and marks[mark] < upto:
        log("%d%% done\n" % (marks[mark] * 100 // total), flush=True)
        mark += 1
    return mark


class Meter:
    """nanoBragg's meter lines and interpolation warning, printed from a render's progress."""

    def __init__(self, marks, total, log, announce_switch_off):
        self.marks, self.total, self.log = marks, total, log
        self.next_mark, self.warned = 0, not announce_switch_off

    def update(self, state):
        if not self.warned and state.off_known:
            # the meter lines of the pixels before the switch-off come first
            self.next_mark = print_marks(self.marks, self.next_mark, state.off_done, self.total, self.log)
            off = state.off
            self.log(interpolation_warning(off.h, off.k, off.l, off.h0, off.k0, off.l0))
            self.warned = True
        self.next_mark = print_marks(self.marks, self.next_mark, state.done, self.total, self.log)


def run_in_worker(work, on_progress, cancel):
    """work() in a worker thread; on_progress() while it runs and once after.  An exception
    here (Ctrl-C, SIGTERM) calls cancel(), waits for the worker to stop, and propagates."""
    finished = _thread.allocate_lock()    # held until the worker ends
    finished.acquire()
    failure, ended = [], []

    def worker():
        try:
            work()
        except BaseException as exc:      # handed to the caller's thread
            failure.append(exc)
        finally:
            ended.append(True)            # before the release: see below
            finished.release()

    _thread.start_new_thread(worker, ())
    try:
        while not finished.acquire(timeout=POLL_SECONDS):
            on_progress()
    except BaseException:
        cancel()
        # The signal may land just after an acquire succeeded: the lock is then ours and a
        # second acquire would wait forever.  `ended` is set before the release, so when it is
        # empty the lock was never released and this acquire waits for the worker.
        if not ended:
            finished.acquire()
        raise
    if failure:
        raise failure[0]
    on_progress()


def render(problem, engine, log, progress: bool, announce_switch_off: bool = True) -> Rendered:
    """Render every pixel of the problem's setup; print the meter lines and (unless the caller
    prints it between -printout blocks) the interpolation warning where nanoBragg prints them."""
    setup = problem.setup
    fpixels, spixels, total = setup.detector.fpixels, setup.detector.spixels, setup.detector.frame.progress_pixels
    state = engine.new_state(setup.interpolate)
    pixels = _uncleared("float[]", fpixels * spixels)
    marks = progress_marks(total, problem.rendered_count()) if progress else []
    meter = Meter(marks, total, log, announce_switch_off)

    def cancel():
        state.cancel = 1

    run_in_worker(lambda: engine.render_image(problem, pixels, state), lambda: meter.update(state), cancel)
    return Rendered(pixels, fpixels, spixels, state)

"""Drive an engine over the detector in row blocks: progress meter, interpolation warning.

nanoBragg prints its meter as pixels finish; we render blocks of rows and print, after each
block, the meter lines nanoBragg would have printed for those pixels (same text, same order).
Between blocks Python handles signals, so an interrupted render stops within one block.
"""
from dataclasses import dataclass

import numpy as np

from .engine_c import new_run_state


@dataclass
class Rendered:
    image: np.ndarray          # (slow, fast) float32
    omega_sum: float
    first_pixel: int           # the pixel that saw the run's first phi sweep (-1: none)
    interpolate_off_at: int    # pixel that switched interpolation off (-1: never)
    off_indices: tuple         # h, k, l, h0, k0, l0 of the evaluation that switched it off


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


def render(problem, engine, s, log, progress: bool, announce_switch_off: bool = True) -> Rendered:
    """Render every row; print the meter lines and (unless the caller prints it between
    -printout blocks) the interpolation warning where nanoBragg prints them."""
    rendered_map = problem.rendered()
    per_row = rendered_map.sum(axis=1)
    rows = np.nonzero(per_row)[0]
    image = np.zeros((s.spixels, s.fpixels), dtype=np.float32)
    omega_rows = np.zeros(s.spixels, dtype=np.float64)
    state = new_run_state(s.interpolate)
    marks = progress_marks(s.progress_pixels, int(per_row.sum())) if progress else []
    if len(rows):
        row0, row_end = int(rows[0]), int(rows[-1]) + 1
        # blocks of ~1 % of the rows: the meter, and Ctrl-C/SIGTERM are acted on between blocks
        block = max(1, (row_end - row0) // 100)
        done, mark = 0, 0
        for start in range(row0, row_end, block):
            stop = min(start + block, row_end)
            was_on = state.interpolate
            engine.render_rows(problem, start, stop, image, omega_rows, state)
            if was_on and state.switched_off and announce_switch_off:
                # the meter lines of the pixels before it come first
                mark = print_marks(marks, mark, rendered_before(rendered_map, per_row, state.off_pixel), s, log)
                log(interpolation_warning(state.off_h, state.off_k, state.off_l,
                                          state.off_h0, state.off_k0, state.off_l0))
            done += int(per_row[start:stop].sum())
            mark = print_marks(marks, mark, done, s, log)
    off = (state.off_h, state.off_k, state.off_l, state.off_h0, state.off_k0, state.off_l0)
    return Rendered(image, float(omega_rows.sum()), int(state.first_pixel),
                    int(state.off_pixel) if state.switched_off else -1, off)


def rendered_before(rendered_map, per_row, pixel) -> int:
    """How many pixels nanoBragg renders before `pixel` (its progress counter there)."""
    row, col = divmod(pixel, rendered_map.shape[1])
    return int(per_row[:row].sum() + rendered_map[row, :col].sum())


def print_marks(marks, mark, upto, s, log) -> int:
    """Print the meter lines of counter values below `upto`; returns the next mark."""
    while mark < len(marks) and marks[mark] < upto:
        log("%d%% done\n" % (marks[mark] * 100 // s.progress_pixels), flush=True)
        mark += 1
    return mark


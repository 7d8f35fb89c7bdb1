"""Drive an engine over the detector in row blocks: progress meter, interpolation warning.

nanoBragg prints its meter as pixels finish; we render blocks of rows and print, after each
block, the meter lines nanoBragg would have printed for those pixels (same text, same order).
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


def progress_marks(total: int, rendered: int) -> list[int]:
    """Values of nanoBragg's progress counter at which it prints "N% done"."""
    if total // 100 <= 0:
        return []
    every20, every100 = total // 20, total // 100
    marks = set(range(0, rendered, every20))
    marks |= {p for p in range(0, rendered, every100) if 10 * p < total or 10 * p > 9 * total}
    return sorted(marks)


def render(problem, engine, s, log, progress: bool) -> Rendered:
    rendered_map = problem.rendered()
    per_row = rendered_map.sum(axis=1)
    rows = np.nonzero(per_row)[0]
    image = np.zeros((s.spixels, s.fpixels), dtype=np.float32)
    omega_rows = np.zeros(s.spixels, dtype=np.float64)
    state = new_run_state(s.interpolate)
    marks = progress_marks(s.progress_pixels, int(per_row.sum())) if progress else []
    if len(rows):
        row0, row_end = int(rows[0]), int(rows[-1]) + 1
        block = max(1, (row_end - row0) // 100) if marks else row_end - row0
        done, mark = 0, 0
        for start in range(row0, row_end, block):
            stop = min(start + block, row_end)
            was_on = state.interpolate
            engine.render_rows(problem, start, stop, image, omega_rows, state)
            if was_on and state.switched_off:
                log("WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: %g,%g,%g,%d,%d,%d \n"
                    % (state.off_h, state.off_k, state.off_l, state.off_h0, state.off_k0, state.off_l0))
                log("WARNING: further warnings will not be printed! ")
            done += int(per_row[start:stop].sum())
            while mark < len(marks) and marks[mark] < done:
                log("%d%% done\n" % (marks[mark] * 100 // s.progress_pixels), flush=True)
                mark += 1
    return Rendered(image, float(omega_rows.sum()), int(state.first_pixel),
                    int(state.off_pixel) if state.switched_off else -1)


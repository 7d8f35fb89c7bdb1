"""What every engine offers the run layer, and what they share.

An engine renders a Problem's whole image into a float buffer, keeping a render state up to date
(the pixels done, a cancel flag, the interpolation switch-off), and recomputes one pixel with
its own arithmetic for -trace_pixel and -printout.  engine.select picks one; run.render drives
it; tests/test_engine_protocol.py runs the same calls over every engine.
"""
from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import EngineError
from nbgpu.engine.state import new_render_state


class Engine:
    """The engine protocol, with the parts every engine shares: its render state and its traces.
    A subclass sets `name`, `precision` and `tracer` (the C entry that recomputes a pixel with
    its arithmetic) and implements describe, render_image and profile."""
    name = ""                  # -backend's word for it
    precision = "double"       # -precision
    vector_math = True         # the C engine's libmvec (False: -libm); the state carries it
    cpu = -1                   # the C engine's cap on its CPU code path (-1: the best)
    tracer = None              # lib.nb_trace_pixel*: one pixel with this engine's arithmetic

    def describe(self) -> str:
        raise NotImplementedError

    def prepare(self, problem, interpolate):
        """What can fail before a render, failing here (while another engine can take over)."""

    def render_image(self, problem, pixels, state):
        raise NotImplementedError

    def profile(self) -> dict:
        raise NotImplementedError

    def new_state(self, interpolate):
        return new_render_state(interpolate, single=self.precision == "single", vector_math=self.vector_math,
                                cpu=self.cpu)

    def trace(self, problem, fpixel, spixel, first_sweep, interpolate):
        """Recompute one pixel from the state it was rendered with; returns the nb_trace."""
        return self.trace_with_state(problem.struct, fpixel, spixel, first_sweep, interpolate)[0]

    def trace_with_state(self, struct, fpixel, spixel, first_sweep, interpolate):
        """(nb_trace, nb_pixel_state after the pixel) of an nb_problem struct (a Problem's, or one
        panel's view of it): the state says whether and where it switched interpolation off."""
        state = ffi.new("nb_pixel_state *")
        state.first_sweep, state.interpolate = first_sweep, interpolate
        trace = ffi.new("nb_trace *")
        if self.tracer(struct, fpixel, spixel, state, trace) != lib.NB_OK:
            raise EngineError(f"cannot trace pixel {fpixel} {spixel}: outside the detector")
        return trace, state

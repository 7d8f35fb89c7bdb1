"""The CUDA engine on multi-panel detectors (-geom/-expt), over the host emulation: one
render_image call renders every panel as the one-panel problem nb_panel_view makes of it, so
each panel is, bit for bit, the CUDA engine's render of its equivalent single-panel argv (its
own first phi sweep, its own interpolation switch-off), within the exact tier of the C engine's
multi-panel render, with the switch-off, the meter and a cancel over the whole stacked image."""
import numpy as np
import pytest

from helpers import write, within_exact_tier, within_fast_tier
from nbgpu._nbcore import ffi, lib
from nbgpu.engine import select as engines
from nbgpu.engine.c import CEngine
from nbgpu.engine.cuda import CudaEngine
from nbgpu.engine.cuda_devices import HostDevice
from nbgpu.engine.state import new_render_state
from nbgpu.run.simulate import simulate_argv
from nbgpu.setup.panels import equivalent_argv
from test_panels import CRYSTAL, FOUR, same_bits

quiet = lambda *args, **kwargs: None
# panel 0 and panel 2 stay inside this grid with interpolation; panel 1 leaves it at its first
# pixel, panel 3 at its 22nd: each panel's switch-off is its own
HKL_RANGES = ((-4, 4), (-6, 4), (-6, 6))
SWITCH_OFF = [-1, 0, -1, 21]
BAD = ("bad1/min_fs = 69\nbad1/max_fs = 73\nbad1/min_ss = 10\nbad1/max_ss = 20\nbad1/panel = p1\n"
       "bad3/min_fs = 70\nbad3/max_fs = 90\nbad3/min_ss = 50\nbad3/max_ss = 52\nbad3/panel = p3\n")


def grid_hkl(path):
    (h0, h1), (k0, k1), (l0, l1) = HKL_RANGES
    path.write_text("".join(f"{h} {k} {l} {10 + abs(h) + 2 * abs(k) + 3 * abs(l)}\n" for h in range(h0, h1 + 1)
                            for k in range(k0, k1 + 1) for l in range(l0, l1 + 1)))
    return str(path)


def interpolating_args(tmp_path, extra=""):
    write(tmp_path / "four.geom", FOUR + extra)
    return ["-geom", str(tmp_path / "four.geom"), "-hkl", grid_hkl(tmp_path / "grid.hkl"), "-interpolate",
            "-phi", "5", "-osc", "1", "-phisteps", "2", "-mosaic", "0.5", "-mosaic_dom", "2"] + CRYSTAL


def plain_args(tmp_path, extra="", name="plain.geom"):
    write(tmp_path / name, FOUR + extra)
    return ["-geom", str(tmp_path / name), "-default_F", "100"] + CRYSTAL


def render(args, engine, log=quiet):
    return simulate_argv(args, log, quiet, write_files=False, engine=engine)


def host_cuda(precision="double", tiles=False):
    engine = CudaEngine(precision, device=HostDevice(precision))
    if tiles:
        engine.tile_pixels = 1000                   # four tiles a panel
    return engine


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("tiles", [False, True], ids=["one-launch", "tiles"])
def test_every_panel_is_the_cuda_engine_s_single_panel_render(tiles, precision, tmp_path):
    """Four rotated and tilted panels in one call: each is the CUDA engine's one-panel render of
    its equivalent argv, bit for bit, with interpolation switched off in panels 1 and 3 only;
    the whole within the C engine's tier, the switch-off reported where the C engine reports it."""
    args = interpolating_args(tmp_path)
    engine = host_cuda(precision, tiles)
    multi = render(args, engine)
    setup = multi.setup
    singles = [render(equivalent_argv(setup, i), host_cuda(precision, tiles)) for i in range(setup.panels.count)]
    assert [one.rendered.interpolate_off_at for one in singles] == SWITCH_OFF
    panels = multi.panels
    for i, ((fpixels, spixels), one) in enumerate(zip(setup.panels.sizes, singles)):
        assert same_bits(panels[i][:spixels, :fpixels], one.image), i
        assert not panels[i][spixels:].any() and not panels[i][:, fpixels:].any()
    assert len({float(p.max()) for p in panels}) == 4
    c_multi = render(args, CEngine("double"))
    within = within_exact_tier if precision == "double" else within_fast_tier
    assert within(multi.image.ravel(), c_multi.image.ravel())
    # the earliest switch-off of all panels, in the stacked image's pixels: panel 1's first
    assert multi.rendered.interpolate_off_at == c_multi.rendered.interpolate_off_at == setup.panels.rows * 64
    assert multi.rendered.first_pixel == c_multi.rendered.first_pixel
    assert engine.device.builds == [engine.variant]
    # the tables once for all panels; the panel table stays on the host
    assert engine.uploads == len(multi.problem.arrays) - 1


def test_the_log_is_the_c_engine_s(tmp_path):
    """The meter over the whole stacked image and the interpolation warning in its place."""
    args = interpolating_args(tmp_path)
    logs = []
    for engine in (CEngine(), host_cuda()):
        text = []
        render(args, engine, lambda t, flush=False: text.append(t))
        logs.append("".join(text))
    assert "WARNING: out of range for three point interpolation" in logs[0] and "% done" in logs[0]
    assert logs[0] == logs[1]


def test_bad_regions_and_panel_masks(tmp_path):
    """Bad regions in panels 1 and 3 (each panel's own block of the stacked mask on the device):
    0 there, every other pixel as without them, the C engine's within the tier."""
    masked_args = plain_args(tmp_path, BAD, "bad.geom")
    masked = render(masked_args, host_cuda())
    plain = render(plain_args(tmp_path), host_cuda())
    region = np.zeros(masked.panels.shape, bool)
    region[1, 10:21, 5:10] = True               # data fs 69..73 of p1, which starts at data fs 64
    region[3, 2:5, 6:27] = True                 # data ss 50..52, fs 70..90 of p3 (from ss 48, fs 64)
    assert not masked.panels[region].any() and plain.panels[region].all()
    assert same_bits(masked.panels[~region], plain.panels[~region])
    assert within_exact_tier(masked.image.ravel(), render(masked_args, CEngine()).image.ravel())
    assert masked.problem.struct.mask != ffi.NULL


def test_backend_cuda_renders_a_multi_panel_detector(tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "cuda_unavailable", lambda: "")
    import nbgpu.engine.cuda as engine_cuda
    monkeypatch.setattr(engine_cuda, "CupyDevice", HostDevice)
    args = plain_args(tmp_path)
    notes = []
    result = simulate_argv(args + ["-backend", "cuda"], quiet, quiet, write_files=False, note=notes.append)
    assert result.engine.name == "cuda" and notes == []
    assert within_exact_tier(result.image.ravel(), render(args, CEngine()).image.ravel())
    monkeypatch.setenv("NBGPU_AUTO_GPU_SECONDS", "0")
    auto = simulate_argv(args, quiet, quiet, write_files=False, note=notes.append)
    assert auto.engine.name == "cuda" and notes == ["rendering with the CUDA engine (host emulation, double precision)"]


def watch_tiles(engine, monkeypatch, cancel_at=None):
    """state.done after each tile, and a cancel after the `cancel_at`-th."""
    seen, original = [], engine._run

    def run(launch, buffers, state, progress):
        original(launch, buffers, state, progress)
        progress(engine.device.processed(buffers))
        seen.append(state.done)
        if len(seen) == cancel_at:
            state.cancel = 1
    monkeypatch.setattr(engine, "_run", run)
    return seen


def test_progress_runs_over_the_stacked_image_and_cancel_stops_it(tmp_path, monkeypatch):
    problem = render(plain_args(tmp_path), CEngine()).problem
    total, rendered = 4 * 48 * 64, problem.rendered_count()
    engine = host_cuda()
    engine.tile_pixels = 16 * 64                   # three tiles a panel
    seen = watch_tiles(engine, monkeypatch)
    state = new_render_state(0)
    engine.render_image(problem, ffi.new("float[]", total), state)
    assert len(seen) == 12 and seen == sorted(seen) and seen[-1] <= rendered == state.done
    assert seen[2] == 3 * 1024 * rendered // total          # panel 0's pixels, scaled over the whole image
    engine = host_cuda()
    engine.tile_pixels = 16 * 64
    seen = watch_tiles(engine, monkeypatch, cancel_at=5)    # in panel 1
    pixels = ffi.new("float[]", total)
    state = new_render_state(0)
    engine.render_image(problem, pixels, state)
    image = np.frombuffer(ffi.buffer(pixels), np.float32).reshape(4, 48, 64)
    assert state.cancelled == 1 and len(seen) == 5
    assert image[0].any() and not image[2:].any()


def test_with_interpolation_progress_moves_panel_by_panel(tmp_path, monkeypatch):
    """The counter moves as each panel is done, never past a switch-off not yet reported."""
    problem = render(interpolating_args(tmp_path), CEngine()).problem
    engine = host_cuda()
    entries, original = [], engine._render_panel

    def render_panel(*args):
        entries.append((state.done, state.off_known))
        return original(*args)
    monkeypatch.setattr(engine, "_render_panel", render_panel)
    state = new_render_state(1)
    engine.render_image(problem, ffi.new("float[]", 4 * 48 * 64), state)
    before = [lib.nb_rendered_before(problem.struct, i * 48 * 64) for i in range(4)]
    assert entries == [(0, 0), (before[1], 0), (before[2], 1), (before[3], 1)]
    assert state.off_done == before[1] and state.done == problem.rendered_count()

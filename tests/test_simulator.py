"""nbgpu.Simulator: frames of one command line, each the image nbgpu.simulate gives."""
import numpy as np
import pytest

import nbgpu
from helpers import LOCAL_SUITE, within_exact_tier
from nbgpu.base.errors import InputError
from nbgpu.setup.cache import InputCache
from nbgpu.run.simulate import simulate_argv

BASE = "-mat A.mat -hkl p1_small.hkl -N 4 -oversample 1 -detpixels 24 -pixel 0.4 -distance 100 -phisteps 2"




def test_each_frame_is_the_image_of_its_command_line(work):
    sim = nbgpu.Simulator(BASE)
    for n, frame in enumerate(sim.sweep(frames=3, step=0.5, start=1.0, seed=7)):
        alone = nbgpu.simulate(BASE + f" -phi {1.0 + 0.5 * n!r} -osc 0.5 -seed 7")
        assert np.array_equal(frame.image, alone.image)
        assert np.array_equal(frame.noise_image(), alone.noise_image())
    turned = sim.render(misset=(10, 20, 30), fluence=1e25, phi=2)
    alone = nbgpu.simulate(BASE + " -misset 10 20 30 -fluence 1e25 -phi 2")
    assert np.array_equal(turned.image, alone.image) and turned.flags.fluence == 1e25


def test_a_rotation_matrix_turns_the_crystal_as_misset_angles_do(work):
    from nbgpu.base.rng import Rng
    sim = nbgpu.Simulator(BASE)
    umat, _ = Rng().mosaic_umat(90.0, -5)
    rotated = sim.render(rotation=np.reshape(umat, (3, 3)))
    random = nbgpu.simulate(BASE + " -misset random -misset_seed 5")
    assert np.allclose(rotated.crystal.lattice.a_star, random.crystal.lattice.a_star, rtol=0, atol=1e-12)
    assert np.allclose(rotated.image, random.image, rtol=1e-6, atol=0)


def test_render_stack_and_files(work):
    sim = nbgpu.Simulator(BASE)
    stack = sim.render_stack([dict(phi=0), dict(phi=1)])
    assert stack.shape == (2, 24, 24) and stack.dtype == np.float32
    assert np.array_equal(stack[1], sim.render(phi=1).image) and not np.array_equal(stack[0], stack[1])
    sim.render(write_files=True, phi=1, floatfile="one.bin", nonoise=True)
    assert (work / "one.bin").read_bytes() == stack[1].tobytes()


def test_input_files_are_read_once_and_again_when_they_change(work):
    inputs, read = InputCache(), []
    quiet = lambda text, flush=False: None                  # noqa: E731
    log = lambda text, flush=False: read.append(text)       # noqa: E731
    words = BASE.split() + ["-nonoise"]
    first = simulate_argv(words, log, quiet, write_files=False, inputs=inputs)
    lines = list(read)
    read.clear()
    second = simulate_argv(words, log, quiet, write_files=False, inputs=inputs)
    assert read == lines                                     # the same log, "reading p1_small.hkl" included
    assert second.structure_factors is first.structure_factors       # not parsed again
    hkl = work / "p1_small.hkl"
    rows = [line.split() for line in hkl.read_text().splitlines() if line.strip()]
    hkl.write_text("".join(f"{h} {k} {l} {2 * float(F)}\n" for h, k, l, F in rows))    # every F doubled
    third = simulate_argv(words, quiet, quiet, write_files=False, inputs=inputs)
    assert third.structure_factors is not first.structure_factors
    fresh = simulate_argv(words, quiet, quiet, write_files=False)
    assert np.array_equal(third.image, fresh.image) and not np.array_equal(third.image, first.image)


def test_bad_command_line_fails_when_built(work):
    with pytest.raises(InputError, match="-mat missing.mat"):
        nbgpu.Simulator(BASE.replace("A.mat", "missing.mat"))


def test_shared_tables_stay_on_the_device(work):
    """The CUDA engine (host emulation) uploads the structure factors once for a sweep."""
    from nbgpu.engine.cuda import CudaEngine
    from nbgpu.engine.cuda_devices import HostDevice
    engine = CudaEngine(device=HostDevice("double"))
    sim = nbgpu.Simulator(BASE)
    words = BASE.split()
    quiet = lambda text, flush=False: None                  # noqa: E731
    images = [simulate_argv(words + ["-phi", str(n)], quiet, quiet, write_files=False, engine=engine,
                            inputs=sim.inputs).image.copy() for n in range(3)]
    arrays = sim.render().problem.arrays
    assert set(arrays) == {"source_dir", "source_lambda", "kahn_frames", "lattice", "lattice_first", "Fhkl"}
    assert engine.uploads == 6 + 2 * 2             # then only the lattice tables, which each phi changes
    assert within_exact_tier(images[2], sim.render(phi=2).image)


def test_tables_are_rebuilt_only_when_their_inputs_change(work):
    sim = nbgpu.Simulator(BASE)
    one, other_seed, other_phi = sim.render(seed=1), sim.render(seed=2), sim.render(phi=1)
    assert one.problem.arrays["lattice"] is other_seed.problem.arrays["lattice"]
    assert one.problem.arrays["lattice"] is not other_phi.problem.arrays["lattice"]
    assert one.problem.arrays["source_dir"] is other_phi.problem.arrays["source_dir"]
    assert np.array_equal(other_phi.image, nbgpu.simulate(BASE + " -phi 1").image)


def test_a_mask_is_converted_once(work):
    (work / "mask.img").write_bytes((LOCAL_SUITE / "inputs" / "mask.img").read_bytes())
    sim = nbgpu.Simulator("-cell 30 -default_F 10 -N 3 -distance 100 -mask mask.img -nonoise")
    first, second = sim.render(phi=0), sim.render(phi=1)
    assert first.problem.arrays["mask"] is second.problem.arrays["mask"]
    alone = nbgpu.simulate("-cell 30 -default_F 10 -N 3 -distance 100 -mask mask.img -nonoise -phi 1")
    assert np.array_equal(second.image, alone.image) and (second.image == 0).any()

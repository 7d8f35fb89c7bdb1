"""Fuzzed command lines and input files (hypothesis).  Every run must end on its own: complete
outputs, or one clear NbgpuError and no image file; never another exception, never a file left
half-written.  NBGPU_FUZZ_EXAMPLES sets how many examples each test draws (CI: the default)."""
import contextlib
import os
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import LOCAL_SUITE, read_maybe_gz
from nbgpu.base.errors import NbgpuError
from nbgpu.setup.flags import KNOWN_NAMES
from nbgpu.run.simulate import simulate_argv

GEOMETRY = "-N 3 -distance 60 -detpixels 8 -pixel 1 -oversample 1 -noprogress".split()
BASE = "-cell 30 30 30 90 90 90 -default_F 100".split() + GEOMETRY
WORK_LIMIT = 2_000_000
FUZZ = settings(max_examples=int(os.environ.get("NBGPU_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
quiet = lambda *args, **kwargs: None


@contextlib.contextmanager
def scratch(files):
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            for name, data in files.items():
                Path(name).write_bytes(data)
            yield Path(folder)
        finally:
            os.chdir(previous)


def run_and_check(words, files=None) -> str:
    files = files or {}
    with scratch(files) as folder:
        try:
            result = simulate_argv(words, quiet, quiet, write_files=True, max_evaluations=WORK_LIMIT)
        except NbgpuError as exc:
            message = str(exc)
            assert message and "\n" not in message
            left = set(os.listdir(folder)) - set(files) - {"Fdump.bin"}
            assert not left, f"{message}: files left behind {left}"
            return "error"
        f, d = result.flags, result.detector
        assert os.path.getsize(f.floatfilename) == 4 * d.fpixels * d.spixels
        assert os.path.getsize(f.intfilename) >= 512 + 2 * d.fpixels * d.spixels
        assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]
        return "ok"


# --- command lines -------------------------------------------------------------------------

NAMES = sorted(KNOWN_NAMES) + ["-dispstep", "-hdiv", "-nonsense", "-", "--x"]
WORDS = st.one_of(
    st.sampled_from(["0", "1", "-1", "2.5", "7", "1e30", "-1e30", "1e-300", "nan", "-nan", "inf", "-inf",
                     "abc", "", " ", "1e6", "100000", "0x10", "3.", ".5", "sample", "beam", "random", "-N"]),
    st.integers(-10**9, 10**9).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
)


@st.composite
def command_lines(draw):
    words = list(BASE)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(words)))
        words[at:at] = [draw(st.sampled_from(NAMES))] + draw(st.lists(WORDS, max_size=4))
    if draw(st.booleans()):
        words.append(draw(st.sampled_from(NAMES)))        # a flag with no value at the end
    return words


@FUZZ
@given(command_lines())
def test_fuzzed_command_lines(words):
    run_and_check(words)


# --- input files ---------------------------------------------------------------------------

GARBAGE = st.binary(max_size=64)
NUMBER_TEXT = st.one_of(st.integers(-60, 60).map(str), st.floats(-1e3, 1e3).map(lambda x: f"{x:.2f}"),
                        st.sampled_from(["nan", "inf", "1.5", "x", "#", ",", "1e9", "-1e9", "2147483648"]))


@st.composite
def mutated(draw, lines):
    """Join lines, then maybe insert garbage, truncate, or change line ends."""
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))
    data = text.encode()
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(GARBAGE) + data[at:]
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return data


@st.composite
def hkl_files(draw):
    rows = draw(st.lists(st.lists(NUMBER_TEXT, min_size=2, max_size=6), max_size=30))
    return draw(mutated([" ".join(row) for row in rows]))


@st.composite
def matrix_files(draw):
    numbers = draw(st.lists(st.one_of(st.floats(-0.05, 0.05).map(repr), NUMBER_TEXT), max_size=11))
    return draw(mutated([" ".join(numbers[i:i + 3]) for i in range(0, len(numbers), 3)]))


@st.composite
def source_files(draw):
    rows = draw(st.lists(st.lists(st.one_of(st.sampled_from(["-10", "0", "0.001", "1", "1e-10", "0.9e-10"]),
                                            NUMBER_TEXT), max_size=6), max_size=8))
    return draw(mutated([" ".join(row) for row in rows]))


@st.composite
def smv_files(draw):
    template = read_maybe_gz(LOCAL_SUITE / "inputs" / "header.img")
    header, pixels = template[:512].decode("latin-1"), template[512:]
    for key in draw(st.lists(st.sampled_from(["SIZE1", "SIZE2", "PIXEL_SIZE", "DISTANCE", "HEADER_BYTES",
                                              "BEAM_CENTER_Y", "WAVELENGTH", "OSC_RANGE", "PHI"]), max_size=3)):
        header = header.replace(f"{key}=", f"{key}={draw(NUMBER_TEXT)}", 1)
    data = header.encode("latin-1")[:512].ljust(512, b" ") + pixels
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return data


@st.composite
def dump_files(draw):
    ranges = draw(st.lists(st.integers(-5, 5), min_size=6, max_size=6))
    header = " ".join(map(str, ranges)) + draw(st.sampled_from(["\n\f", "\n", "\f", ""]))
    count = draw(st.integers(0, 400))
    return header.encode() + struct.pack(f"<{count}d", *draw(st.lists(st.floats(-1e3, 1e3), min_size=count,
                                                                        max_size=count)))


@FUZZ
@given(hkl_files(), st.booleans())
def test_fuzzed_hkl_files(data, interpolate):
    run_and_check(["-hkl", "f.hkl"] + BASE + (["-interpolate"] if interpolate else []), {"f.hkl": data})


@FUZZ
@given(matrix_files())
def test_fuzzed_matrix_files(data):
    run_and_check(["-mat", "m.mat", "-default_F", "100"] + GEOMETRY, {"m.mat": data})


@FUZZ
@given(source_files(), st.booleans())
def test_fuzzed_source_files(data, dmin):
    run_and_check(BASE + ["-sourcefile", "s.txt"] + (["-dmin", "2"] if dmin else []), {"s.txt": data})


@FUZZ
@given(smv_files(), st.sampled_from(["-img", "-mask"]))
def test_fuzzed_smv_headers(data, flag):
    run_and_check(["-cell", "30", "30", "30", "90", "90", "90", "-default_F", "100", "-N", "3",
                   "-oversample", "1", flag, "h.img"], {"h.img": data})


@FUZZ
@given(dump_files())
def test_fuzzed_dump_files(data):
    run_and_check(["-cell", "30", "30", "30", "90", "90", "90"] + GEOMETRY, {"Fdump.bin": data})


# --- the Python API: any Python or numpy value where a flag's value goes --------------------

import numbers  # noqa: E402

import numpy as np  # noqa: E402

import nbgpu  # noqa: E402

API_FLAGS = ["N", "distance", "phi", "osc", "phisteps", "cell", "default_F", "detpixels", "pixel", "lambda_",
             "mosaic", "mosaic_domains", "misset", "nopolar", "roi", "seed", "oversample", "dispersion",
             "floatfile", "interpolate", "nonsense"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=6), st.text(max_size=6),
    st.floats(width=32).map(np.float32), st.integers(-100, 100).map(np.int64), st.floats().map(np.float64),
    st.booleans().map(np.bool_), st.complex_numbers(max_magnitude=10),
    st.lists(st.floats(-100, 100), max_size=7).map(np.array),
    st.lists(st.one_of(st.integers(-5, 100), st.floats(-5, 100), st.none(), st.binary(max_size=2)), max_size=7)
    .map(tuple),
    st.builds(object), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
API_ARGS = st.one_of(st.just(BASE), st.just(" ".join(BASE)), st.just(BASE[:6]), st.none(), st.integers(),
                     st.binary(max_size=8), st.lists(VALUES, max_size=3), st.just("-cell 30 '30"),
                     st.lists(WORDS, max_size=4))


def ends_cleanly(call):
    """call() returns a Result with a finite-sized image, or raises one-line NbgpuError."""
    try:
        result = call()
    except NbgpuError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert result.image.shape == (result.detector.spixels, result.detector.fpixels)


def budget(value):
    """A valid budget stays small (the renders must stay quick); anything else goes as drawn."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and value >= 0:
        return type(value)(WORK_LIMIT)
    return value


@FUZZ
@given(API_ARGS, st.dictionaries(st.sampled_from(API_FLAGS), VALUES, max_size=3), VALUES)
def test_fuzzed_python_api(args, options, max_evaluations):
    with scratch({}):
        ends_cleanly(lambda: nbgpu.simulate(args, backend="c", max_evaluations=budget(max_evaluations),
                                            **options))


@FUZZ
@given(st.dictionaries(st.sampled_from(API_FLAGS + ["rotation"]), VALUES, max_size=3))
def test_fuzzed_simulator_frames(changes):
    with scratch({}):
        sim = nbgpu.Simulator(BASE, backend="c", max_evaluations=WORK_LIMIT)
        ends_cleanly(lambda: sim.render(**changes))


# --- batch options ---------------------------------------------------------------------------

FOLDER_NAMES = st.one_of(st.sampled_from(["logs", "", "afile", "afile/sub", "no/such/x.h5", "s.h5", ".", "/",
                                          "/proc/nope", "jobs.txt", "sched.json"]),
                         st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"),
                                 min_size=1, max_size=8))


@FUZZ
@given(st.one_of(st.none(), FOLDER_NAMES), st.one_of(st.none(), FOLDER_NAMES),
       st.one_of(st.none(), st.integers(-5, 10**7)), st.one_of(st.none(), FOLDER_NAMES, WORDS),
       st.integers(-3, 5), st.booleans())
def test_fuzzed_batch_options(logs, nexus, workers, scheduler, chunk, resume):
    """Every combination ends with an exit status or one NbgpuError, before anything renders when
    an option is bad; no local cluster is started (a valid --workers alone is left out)."""
    import os

    from nbgpu.batch import main as batch
    from nbgpu.batch import cluster
    from nbgpu.batch.cluster import most_workers
    from nbgpu.batch.state import EXIT_FAILED
    if workers is not None and 1 <= workers <= most_workers() and scheduler is None:
        workers = None
    with scratch({"jobs.txt": (" ".join(BASE) + " -nonoise -nopgm\n").encode(), "afile": b"",
                  "sched.json": b"not json"}) as folder:
        previous, cluster.CONNECT_SECONDS = cluster.CONNECT_SECONDS, 1
        try:
            status = batch.run_batch("jobs.txt", logs=logs, nexus=nexus, workers=workers, scheduler=scheduler,
                                     chunk=chunk, resume=resume, stream=open(os.devnull, "w"), warn=quiet,
                                     note=quiet)
        except NbgpuError as exc:
            assert str(exc)
            assert not (folder / "floatimage.bin").exists()
            return
        finally:
            cluster.CONNECT_SECONDS = previous
        assert (folder / "floatimage.bin").stat().st_size == 4 * 8 * 8
        assert status == 0 or (status == EXIT_FAILED and nexus)    # a --nexus that fails late (/proc)

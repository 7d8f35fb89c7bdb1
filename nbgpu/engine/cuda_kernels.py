"""The CUDA kernels as the engine builds them: nb_render.cu's source with the shared headers
pasted in, the feature variants (`Variant`) each problem is compiled for, NVRTC's options and
the register budget, and the problem struct packed with device addresses.  Needs no GPU: the
kernel report and the build tests use it with nvcc."""
import sys
from pathlib import Path

import numpy as np

from nbgpu._nbcore import ffi
from nbgpu.base.errors import EngineError
from nbgpu.engine.kernel_source import inlined_source

KERNELS = Path(__file__).resolve().parent / "kernels"
HEADERS = ("nb_problem.h", "nb_physics.h", "nb_tile.h")
# the struct's pointer fields: replaced by device addresses when it is copied to the GPU
POINTER_FIELDS = tuple(name for name, field in ffi.typeof("nb_problem").fields if field.type.kind == "pointer")
THREADS = 128
MAX_BLOCKS = 2**31 - 1          # a grid's x dimension
REGISTER_BUDGET = {"double": 128, "single": 96}
ARRAY_TYPES = {"double": np.float64, "unsigned char": np.uint8}
# tables nb_panel_view reads on the host: the one-panel views the kernel takes carry none
HOST_TABLES = ("panels",)


def kernel_source() -> str:
    """The kernel with its shared headers pasted in (engine.kernel_source)."""
    return inlined_source(KERNELS, "nb_render.cu", HEADERS)


def launch_grid(pixels: int) -> int:
    """Blocks of a launch: one thread per pixel, which nb_render_pixels requires.  The block
    scheduler hands each SM a new block as one ends, so pixels of different cost (ROI, mask,
    the switch-off pass) and any occupancy leave no idle last wave, as a fixed grid of resident
    blocks striding over the image would."""
    blocks = max(1, -(-pixels // THREADS))
    if blocks > MAX_BLOCKS:
        raise EngineError(f"a tile of {pixels} pixels is more than one launch can render")
    return blocks


class Variant:
    """The features one kernel is compiled for: the NB_V_* values of nb_physics.h."""
    __slots__ = ("shape", "interpolate", "curved", "absorb", "polar", "dmin")
    CHOICES = {"shape": (0, 1, 2, 3), "interpolate": (0, 1), "curved": (0, 1), "absorb": (0, 1),
               "polar": (0, 1, 2), "dmin": (0, 1)}

    def __init__(self, shape=0, interpolate=0, curved=0, absorb=0, polar=1, dmin=0):
        self.shape, self.interpolate, self.curved = shape, interpolate, curved
        self.absorb, self.polar, self.dmin = absorb, polar, dmin

    @classmethod
    def of(cls, p, interpolate) -> "Variant":
        """The variant for problem struct p, whose run starts with interpolation `interpolate`
        (the rules of nb_physics.h's run-time macros, so both agree on every such problem)."""
        if p.nopolar and not p.oversample_polar:
            polar = 0                       # polarization never computed
        else:
            polar = 1 if p.kahn_factor == 0.0 else 2
        return cls(shape=p.xtal_shape, interpolate=int(bool(interpolate)), curved=int(bool(p.curved_detector)),
                   absorb=int(p.detector_thick != 0.0 or bool(p.oversample_thick)), polar=polar,
                   dmin=int(p.dmin > 0.0))

    def key(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return isinstance(other, Variant) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return "Variant(" + ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__) + ")"

    def defines(self) -> tuple:
        return ("-DNB_VARIANT",) + tuple(f"-DNB_V_{name.upper()}={getattr(self, name)}" for name in self.__slots__)

    def as_compiled(self, struct):
        """The problem as this variant's kernel sees it (for the host emulation): the features the
        variant compiles out switched off in the struct.  For the variant chosen for a problem
        this changes nothing."""
        p = ffi.new("nb_problem *")
        ffi.memmove(p, struct, ffi.sizeof("nb_problem"))
        p.xtal_shape, p.curved_detector = self.shape, self.curved
        if not self.absorb:
            p.detector_thick, p.oversample_thick = 0.0, 0
        if self.polar == 0:
            p.nopolar, p.oversample_polar = 1, 0
        elif self.polar == 1:
            p.kahn_factor = 0.0
        if not self.dmin:
            p.dmin = 0.0
        return p


def compile_options(precision: str, variant: Variant | None = None, max_registers: int | None = None) -> tuple:
    """NVRTC options (nvcc takes the same: the kernel report and the compile tests use them
    without a GPU).  CuPy appends -ftz=true to whatever is given (nb_to_float keeps the image's
    subnormal values regardless)."""
    single = precision == "single"
    options = (f"-DNB_SINGLE={int(single)}", "-DNB_KERNEL_ARITHMETIC=1", "--fmad=" + ("true" if single else "false"))
    options += variant.defines() if variant is not None else ()
    return options + ((f"--maxrregcount={max_registers}",) if max_registers else ())


def within_budget(compile, registers_of, precision: str):
    """compile(None), or compile(cap) with the register budget as cap when the first build is
    over it: (what was built, whether capped).  The engine and the kernel report build so."""
    first = compile(None)
    budget = REGISTER_BUDGET[precision]
    if registers_of(first) > budget:
        return compile(budget), True
    return first, False


def pack_problem(struct, device_pointers: dict, uploaded=None) -> bytes:
    """The bytes of the struct (an nb_problem *) with each pointer field replaced by its device
    address.  `uploaded`: the struct whose tables the addresses are those of, when `struct` is a
    view into them (nb_panel_view: a panel's block of the mask): each address then moves as far
    as the view's pointer is from the uploaded one's, and a field the view sets to NULL stays NULL."""
    data = bytearray(ffi.buffer(struct))
    size = ffi.sizeof("void *")
    for name in POINTER_FIELDS:
        address = int(device_pointers.get(name, 0))
        if uploaded is not None and address:
            moved = getattr(struct, name)
            address = 0 if moved == ffi.NULL else address + (
                int(ffi.cast("uintptr_t", moved)) - int(ffi.cast("uintptr_t", getattr(uploaded, name))))
        offset = ffi.offsetof("nb_problem", name)
        data[offset:offset + size] = address.to_bytes(size, sys.byteorder)
    return bytes(data)


def host_array(array) -> np.ndarray:
    """A C array of the problem as a numpy array over the same memory."""
    return np.frombuffer(ffi.buffer(array), ARRAY_TYPES[ffi.typeof(array).item.cname])

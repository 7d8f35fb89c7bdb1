"""A CUDA kernel's source as CuPy compiles it: the .cu file with the text of its shared headers in
place of the #include lines.  CuPy caches a compiled kernel by its source and options, so every
change to a header must be in the source (with -I, an edited header would leave the old kernel in
the cache); #line directives keep the compiler's messages on the right file and line."""
import re

from nbgpu.base.errors import EngineError


def inlined_source(folder, kernel: str, headers) -> str:
    """folder/`kernel` with each of `headers` it includes pasted in (any other include: EngineError)."""
    path = folder / kernel
    parts = [f'#line 1 "{path}"\n']
    for number, line in enumerate(path.read_text().splitlines(keepends=True), 1):
        included = re.match(r'#include "([^"]+)"', line)
        if not included:
            parts.append(line)
            continue
        name = included.group(1)
        if name not in headers:
            raise EngineError(f"{kernel} includes {name}, which is not one of its shared headers")
        parts.append(f'#line 1 "{folder / name}"\n{(folder / name).read_text()}\n#line {number + 1} "{path}"\n')
    return "".join(parts)


class CupyKernel:
    """One kernel compiled by CuPy (NVRTC) from its inlined source: what nonBragg's and noisify's
    GPU devices share.  Subclasses name the kernel, its source function and its options; with a
    register budget, a kernel over it is compiled again capped at it.  `cupy`: a stand-in module
    may be given (the tests); None imports CuPy."""
    kernel_name = ""
    options = ()
    register_budget = None

    @staticmethod
    def source() -> str:
        raise NotImplementedError

    def __init__(self, cupy=None):
        if cupy is None:
            import cupy
        self.xp = cupy
        self.Errors = (cupy.cuda.memory.OutOfMemoryError, cupy.cuda.runtime.CUDARuntimeError,
                       cupy.cuda.driver.CUDADriverError)
        self.kernel = None

    def describe(self) -> str:
        props = self.xp.cuda.runtime.getDeviceProperties(self.xp.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else name

    def build(self):
        """The compiled kernel (compiled once)."""
        if self.kernel is not None:
            return self.kernel
        try:
            source = self.source()
            kernel = self.xp.RawModule(code=source, options=self.options).get_function(self.kernel_name)
            if self.register_budget is not None and kernel.num_regs > self.register_budget:
                options = self.options + (f"--maxrregcount={self.register_budget}",)
                kernel = self.xp.RawModule(code=source, options=options).get_function(self.kernel_name)
        except Exception as exc:
            raise EngineError(f"cannot build the CUDA kernel: {exc}") from exc
        self.kernel = kernel
        return kernel


class HostKernel:
    """A kernel's launches run on the host by the C library (the tests' device when there is no
    GPU): nothing to build, no GPU errors."""
    Errors = ()

    @staticmethod
    def describe() -> str:
        return "host emulation"

    def build(self):
        return None

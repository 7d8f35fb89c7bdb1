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

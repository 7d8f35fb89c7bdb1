"""nbgpu's own lines on stderr, in one form wherever they come from (the CLI, the Python API, the
Simulator, a batch): `nbgpu: warning: ...`, `nbgpu: error: ...`, and `nbgpu: ...` for a note
(which engine renders, an interruption), so that scripts can find them."""
import sys


def warning(message) -> str:
    return f"nbgpu: warning: {message}"


def error(message) -> str:
    return f"nbgpu: error: {message}"


def note(message) -> str:
    return f"nbgpu: {message}"


def printer(form, stream=None):
    """A callable printing form(message) as one line on `stream` (stderr as it is at the time)."""
    return lambda message: print(form(message), file=stream or sys.stderr)

"""Memory asked for is checked before it is allocated, with an error naming the cause."""
from .errors import InputError


def available_memory() -> int | None:
    """Bytes of memory this process can still get (MemAvailable), None when unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_allocation(nbytes: int, what: str, advice: str):
    """InputError when `what` would need more memory than is available."""
    have = available_memory()
    if have is not None and nbytes > have:
        raise InputError(f"{what} needs {nbytes / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB of "
                         f"memory is available: {advice}")

"""Memory asked for is checked before it is allocated, with an error naming the cause."""
import os

from nbgpu.base.errors import InputError

UNLIMITED = 1 << 60              # cgroup v1 writes "no limit" as a huge number


def available_memory() -> int | None:
    """Bytes of memory this process can still get: the machine's MemAvailable, or less when a
    cgroup (a container's or a batch job's memory limit) leaves less; None when unknown."""
    known = [n for n in (meminfo_available(), cgroup_headroom()) if n is not None]
    return min(known) if known else None


def meminfo_available(path="/proc/meminfo") -> int | None:
    try:
        with open(path) as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def read_number(path) -> int | None:
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None          # "max": no limit


def reclaimable(path, key) -> int:
    """The page cache a cgroup's usage counts but the kernel gives back on demand (the
    inactive file pages of memory.stat), 0 when unknown."""
    try:
        with open(path) as handle:
            for line in handle:
                name, _, value = line.partition(" ")
                if name == key and value.strip().isdigit():
                    return int(value)
    except OSError:
        pass
    return 0


def cgroup_headroom(root="/sys/fs/cgroup", membership="/proc/self/cgroup") -> int | None:
    """Bytes left under the tightest memory limit of this process's cgroup and its ancestors
    (cgroup v2: memory.max less memory.current; v1: memory.limit_in_bytes less
    memory.usage_in_bytes; the inactive page cache in either counts as free, as the kernel
    reclaims it before it fails an allocation); None when no limit is set or none can be read."""
    try:
        with open(membership) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    places = []                          # (folder of the hierarchy, the process's cgroup, limit, usage, cache key)
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = root if os.path.exists(os.path.join(root, "cgroup.controllers")) else os.path.join(root, "unified")
            places.append((v2, path, "memory.max", "memory.current", "inactive_file"))
        elif "memory" in controllers.split(","):
            places.append((os.path.join(root, "memory"), path, "memory.limit_in_bytes", "memory.usage_in_bytes",
                           "total_inactive_file"))
    headrooms = []
    for base, path, limit_file, usage_file, cache_key in places:
        path = path.strip("/")
        while True:                      # the cgroup, then each ancestor up to the hierarchy's root
            folder = os.path.join(base, path)
            limit, usage = read_number(os.path.join(folder, limit_file)), read_number(os.path.join(folder, usage_file))
            if limit is not None and limit < UNLIMITED and usage is not None:
                used = usage - reclaimable(os.path.join(folder, "memory.stat"), cache_key)
                headrooms.append(max(0, limit - max(0, used)))
            if not path:
                break
            path = os.path.dirname(path)
    return min(headrooms) if headrooms else None


def check_allocation(nbytes: int, what: str, advice: str):
    """InputError when `what` would need more memory than is available."""
    have = available_memory()
    if have is not None and nbytes > have:
        raise InputError(f"{what} needs {nbytes / 2**30:.1f} GiB but only {have / 2**30:.1f} GiB of "
                         f"memory is available: {advice}")

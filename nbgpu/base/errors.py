"""One exception hierarchy: the CLI turns any NbgpuError into one line on stderr."""


class NbgpuError(Exception):
    """A problem the user can fix (bad flag value, missing file...); exit status 9 like nanoBragg."""

    exit_code = 9
    told = None         # base.told.Told: what the run said before failing, for the caller to print first


class InputError(NbgpuError):
    """A flag value or an input file is missing, malformed or impossible."""


class EngineError(NbgpuError):
    """An engine could not run (not built, no device, out of memory)."""


class UsageExit(NbgpuError):
    """No structure factors at all: nanoBragg prints its usage text and exits 9."""

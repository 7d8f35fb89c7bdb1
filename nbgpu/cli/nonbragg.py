"""The nonBragg command: nonBragg's flags, matched as nonBragg matches them
(setup.nonbragg_flags), its stdout, its files and its exit statuses; a bad input is one
`nbgpu: error: ...` line on stderr and exit status 9, never a traceback."""
import sys

from nbgpu.cli.main import STDERR, STDOUT, guarded, log, note, open_standard_streams, warn


def main(argv=None) -> int:
    from nbgpu.run.nonbragg import nonbragg_argv
    argv = sys.argv[1:] if argv is None else list(argv)
    return guarded(lambda: nonbragg_argv(argv, log, warn, as_numpy=False, note=note) and 0)


def entry():
    """The installed nonBragg command and `python -m nbgpu.cli.nonbragg`."""
    import os
    open_standard_streams()
    code = main()
    STDOUT.flush()
    STDERR.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()

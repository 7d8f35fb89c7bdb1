"""The nonBragg command: nonBragg's flags, matched as nonBragg matches them
(setup.nonbragg_flags), its stdout, its files and its exit statuses; a bad input is one
`nbgpu: error: ...` line on stderr and exit status 9, never a traceback."""
import sys

from nbgpu.cli.main import exit_with, guarded, log, note, warn


def main(argv=None) -> int:
    from nbgpu.run.nonbragg import nonbragg_argv
    argv = sys.argv[1:] if argv is None else list(argv)
    return guarded(lambda: nonbragg_argv(argv, log, warn, as_numpy=False, note=note) and 0)


def entry():
    """The installed nonBragg command and `python -m nbgpu.cli.nonbragg`."""
    exit_with(main)


if __name__ == "__main__":
    entry()

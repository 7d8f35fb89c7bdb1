"""The noisify command: noisify's flags (matched as noisify matches them), its log on stdout,
nbgpu's warnings and errors on stderr, exit status 9 for bad input, no traceback."""
from nbgpu.cli.main import exit_with, guarded, log, note, warn


def main(argv=None) -> int:
    import sys
    argv = sys.argv[1:] if argv is None else list(argv)

    def work():
        from nbgpu.run.noisify import noisify_argv
        noisify_argv(argv, log, warn, note=note)
    return guarded(work)


def entry():
    """The installed noisify command and `python -m nbgpu.cli.noisify`."""
    exit_with(main)


if __name__ == "__main__":
    entry()

"""io.fdump: Fdump.bin byte for byte, and read back as nanoBragg reads it."""
import shlex
from pathlib import Path

import numpy as np
import pytest

from helpers import DATA, Log, concat, golden_bytes, golden_dir, golden_files
from nbgpu.base.errors import InputError
from nbgpu.io import StructureFactors, fdump_parts, read_fdump, read_hkl, write_fdump


def case_hkl_arguments(case: Path):
    """The -hkl file and default_F of a golden case (None when it has no -hkl)."""
    args = shlex.split((case / "args").read_text())
    if "-hkl" not in args:
        return None
    hkl = args[args.index("-hkl") + 1]
    default_F = float(args[args.index("-default_F") + 1]) if "-default_F" in args else 0.0
    return hkl, default_F


def test_fdump_matches_every_golden_dump(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checked = set()
    for case in golden_files("Fdump.bin"):
        hkl, default_F = case_hkl_arguments(case)
        real_path = (case / hkl).resolve()
        log = Log()
        sf = read_hkl(real_path, default_F, log)
        write_fdump("Fdump.bin", sf, log)
        assert Path("Fdump.bin").read_bytes() == golden_bytes(case / "Fdump.bin"), case.name
        assert concat(fdump_parts(sf)) == golden_bytes(case / "Fdump.bin")
        # the lines nanoBragg printed while doing the same
        stdout = (case / "stdout.txt").read_text()
        block = stdout[stdout.index("counting entries"):]
        block = block[:block.index("writing dump file for next time: Fdump.bin\n") + 43]
        assert log.text.replace(str(real_path), hkl) == block, case.name
        checked.add(Path(hkl).name)
    assert checked == {"scaled.hkl", "p1_small.hkl", "p1_sparse.hkl"}


def test_fdump_golden_round_trip():
    case = golden_dir() / "cases" / "fdump_reuse"
    path = case / "pre" / "Fdump.bin"
    log = Log()
    sf = read_fdump(path, log)
    assert log.text == f"reading Fs from {path}\n"
    assert "reading Fs from Fdump.bin\n" in (case / "stdout.txt").read_text()
    assert concat(fdump_parts(sf)) == path.read_bytes()
    assert (sf.h_min, sf.h_max) == (-12, 12)
    assert sf.hkls == sf.h_range * sf.k_range * sf.l_range


def test_fdump_write_and_read_back(tmp_path):
    sf = read_hkl(DATA / "tiny.hkl", 2.0, Log())
    log = Log()
    write_fdump(tmp_path / "Fdump.bin", sf, log)
    assert log.text == f"writing dump file for next time: {tmp_path / 'Fdump.bin'}\n"
    raw = (tmp_path / "Fdump.bin").read_bytes()
    assert raw.startswith(b"-2 1 -1 1 -1 2\n\f")
    assert len(raw) == 16 + 8 * 5 * 4 * 5
    assert np.array_equal(np.frombuffer(raw[16:], dtype=np.float64), sf.grid.ravel())
    back = read_fdump(tmp_path / "Fdump.bin", Log())
    assert np.array_equal(back.grid, sf.grid)
    assert back.grid.flags.c_contiguous and back.grid.flags.writeable
    assert (back.h_min, back.h_max, back.k_min, back.k_max, back.l_min, back.l_max) == (
        -2, 1, -1, 1, -1, 2)
    assert back.hkls == 4 * 3 * 4        # nanoBragg's count after reading a dump


def test_fdump_first_double_with_whitespace_bytes_round_trips(tmp_path):
    # nanoBragg's own reader would swallow these leading 0x20/0x0c bytes; ours must not
    grid = np.zeros((2, 2, 2))
    grid[0, 0, 0] = np.frombuffer(b"\x20\x0c\x09abcd@", dtype=np.float64)[0]
    sf = StructureFactors(grid, 0, 0, 0, 0, 0, 0, hkls=1)
    write_fdump(tmp_path / "F", sf, Log())
    assert read_fdump(tmp_path / "F", Log()).grid.tobytes() == grid.tobytes()


def test_write_fdump_failure_is_a_warning(tmp_path):
    sf = read_hkl(DATA / "tiny.hkl", 0.0, Log())
    log = Log()
    target = tmp_path / "missing_dir" / "Fdump.bin"
    write_fdump(target, sf, log)
    assert log.text == f"WARNING: unable to open dump file: {target}\n"


@pytest.mark.parametrize("content, why", [
    (b"", "header"),
    (b"garbage\n\f" + bytes(64), "header"),
    (b"0 1 0 1 0 1\n" + bytes(64), "header"),             # no form feed
    (b"0 1 0 1 0\n\f" + bytes(64), "header"),             # five numbers
    (b"1 0 0 1 0 1\n\f" + bytes(1000), "impossible"),     # h_max < h_min
    (b"0 1 0 1 0 1\n\f" + bytes(8 * 27 - 1), "data bytes"),
    (b"-2000000000 2000000000 0 1 0 1\n\f" + bytes(64), "too large"),     # over 2^31 - 1 values
])
def test_read_fdump_corrupt(tmp_path, content, why):
    path = tmp_path / "Fdump.bin"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_fdump(path, Log())
    message = str(info.value)
    assert message.startswith(f"-dump {path}: corrupt Fdump file") and why in message


def test_read_fdump_exact_size_and_missing(tmp_path):
    path = tmp_path / "Fdump.bin"
    path.write_bytes(b"0 1 0 1 0 1\n\f" + np.arange(27, dtype=np.float64).tobytes())
    sf = read_fdump(path, Log())
    assert sf.grid.shape == (3, 3, 3) and sf.grid[2, 2, 2] == 26.0 and sf.hkls == 8
    with pytest.raises(InputError, match=r"^-dump .*nothere: cannot open \(No such file"):
        read_fdump(tmp_path / "nothere", Log())

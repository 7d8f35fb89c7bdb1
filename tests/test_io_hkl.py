"""io.hkl: HKL text files read as nanoBragg's two fscanf passes read them, by the exact reader
and the fast tokenizer alike."""
import math
import random

import numpy as np
import pytest

from helpers import DATA, Log, concat, golden_dir
from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import InputError
from nbgpu.io import StructureFactors, fdump_parts, read_hkl


def hkl_file(tmp_path, text, name="in.hkl"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_read_tiny_hkl():
    log = Log()
    path = DATA / "tiny.hkl"
    sf = read_hkl(path, 0.0, log)
    assert log.text == f"counting entries in {path}\nre-reading {path}\n"
    assert (sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max) == (-2, 1, -1, 1, -1, 2)
    assert (sf.h_range, sf.k_range, sf.l_range) == (4, 3, 4)
    assert sf.hkls == 5
    assert sf.grid.shape == (5, 4, 5) and sf.grid.dtype == np.float64
    assert sf.grid.flags.c_contiguous

    def F(h, k, l):
        return sf.grid[h - sf.h_min, k - sf.k_min, l - sf.l_min]

    assert F(0, 0, 1) == 10.5
    assert F(1, -1, 2) == 21.0            # the later duplicate wins
    assert F(-2, 1, 0) == 30.0
    assert F(0, 1, -1) == 150.0
    assert np.count_nonzero(sf.grid) == 4


def test_read_hkl_default_F_fills_all_but_padding():
    log = Log()
    sf = read_hkl(DATA / "tiny.hkl", 7.5, log)
    assert log.parts[1:3] == ["initializing to default_F = 7.5:\n", "done initializing:\n"]
    assert log.parts[3].startswith("re-reading ")
    inner = sf.grid[:4, :3, :4]
    assert np.count_nonzero(inner == 7.5) == inner.size - 4
    assert not sf.grid[4].any() and not sf.grid[:, 3].any() and not sf.grid[:, :, 4].any()


def test_read_hkl_missing_file(tmp_path):
    path = tmp_path / "x.hkl"
    log = Log()
    with pytest.raises(InputError) as info:
        read_hkl(path, 0.0, log)
    assert str(info.value) == f"-hkl {path}: cannot open (No such file or directory)"
    assert log.text == ""


@pytest.mark.parametrize("text", ["", "# a comment first\n1 2 3 4\n", "1,2,3,4\n", "1 2 3\n"])
def test_read_hkl_not_enough_indices(tmp_path, text):
    path = hkl_file(tmp_path, text)
    log = Log()
    with pytest.raises(InputError) as info:
        read_hkl(path, 0.0, log)
    assert str(info.value) == f"-hkl: not enough HKL indices in {path}"
    assert log.text == (f"counting entries in {path}\n"
                        "h: 1000000000 - -1000000000\n"
                        "k: 1000000000 - -1000000000\n"
                        "l: 1000000000 - -1000000000\n")


def test_read_hkl_is_a_stream_of_groups_of_four(tmp_path):
    # five columns: the sigma column shifts every later group (line breaks mean nothing)
    path = hkl_file(tmp_path, "1 2 3 10 0.5\n2 3 4 20 0.5\n")
    sf = read_hkl(path, 0.0, Log())
    assert sf.hkls == 2                    # (1 2 3 10) (0.5 2 3 4); "20 0.5" is left over
    assert (sf.h_min, sf.h_max) == (0, 1)  # 0.5 truncates to 0
    assert sf.grid[1 - sf.h_min, 2 - sf.k_min, 3 - sf.l_min] == 10.0
    assert np.count_nonzero(sf.grid) == 1  # pass 2 stops at "0.5"


def test_read_hkl_non_integer_index(tmp_path):
    path = hkl_file(tmp_path, "1 1 1 5\n2 1.5 1 6\n3 1 1 7\n0 0 nan 8\n")
    log = Log()
    sf = read_hkl(path, 1.0, log)
    assert log.parts[1:3] == ["WARNING: non-integer value for k (1.5) at line 1\n",
                              "WARNING: non-integer value for l (nan) at line 3\n"]
    assert sf.hkls == 4
    assert (sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max) == (0, 3, 0, 1, 1, 1)
    # pass 2 read "2 1" then failed on ".5": only the first reflection is stored
    assert sf.grid[1, 1, 0] == 5.0
    assert sf.grid[3, 1, 0] == 1.0        # 3 1 1 7 was never stored: default_F stays


def test_read_hkl_non_integer_l_misaligns_pass_2(tmp_path):
    # pass 2 reads "2 2 2" + ".5" as F, then "3 3 3 3": the true F of 3 3 3 (7) is lost
    path = hkl_file(tmp_path, "1 1 1 5\n2 2 2.5 3\n3 3 3 7\n")
    log = Log()
    sf = read_hkl(path, 0.0, log)
    assert log.parts[1] == "WARNING: non-integer value for l (2.5) at line 1\n"
    assert sf.hkls == 3
    assert sf.grid[0, 0, 0] == 5.0 and sf.grid[1, 1, 1] == 0.5 and sf.grid[2, 2, 2] == 3.0
    # with 6 instead of 3, pass 2 reads h = 6, outside 1..3, where nanoBragg writes out of bounds
    path = hkl_file(tmp_path, "1 1 1 5\n2 2 2.5 6\n3 3 3 7\n")
    with pytest.raises(InputError, match="reflection 6 3 3 lies outside"):
        read_hkl(path, 0.0, Log())


def test_read_hkl_warns_for_every_non_integer_index(tmp_path):
    # nanoBragg's test v != ceil(v - 0.4) is true for any non-integer v
    log = Log()
    read_hkl(hkl_file(tmp_path, "0.7 -0.6 1e0 4\n-0.5 0.99 2 5\n"), 0.0, log)
    assert log.parts[1:] == ["WARNING: non-integer value for h (0.7) at line 0\n",
                             "WARNING: non-integer value for k (-0.6) at line 0\n",
                             "WARNING: non-integer value for h (-0.5) at line 1\n",
                             "WARNING: non-integer value for k (0.99) at line 1\n",
                             f"re-reading {tmp_path / 'in.hkl'}\n"]    # 1e0 is an integer


def test_read_hkl_stops_at_comment_and_comma(tmp_path):
    sf = read_hkl(hkl_file(tmp_path, "1 1 1 5\n2 2 2 6 # note\n3 3 3 7\n"), 0.0, Log())
    assert sf.hkls == 2 and (sf.h_max, sf.k_max) == (2, 2)
    sf = read_hkl(hkl_file(tmp_path, "1 1 1 5\n2,2,2,6\n"), 0.0, Log())
    assert sf.hkls == 1


def pass_1(data: bytes, exact=True):
    """(groups, limits, plain) of nb_hkl_count on the bytes."""
    scan = ffi.new("nb_hkl_scan *")
    assert lib.nb_hkl_count(data, len(data), int(exact), scan) == lib.NB_OK
    try:
        limits = (scan.h_min, scan.h_max, scan.k_min, scan.k_max, scan.l_min, scan.l_max)
        return scan.hkls, limits, bool(scan.plain)
    finally:
        lib.nb_hkl_free(scan)


def c_int(v):
    """(int)v as x86 converts a double: INT_MIN for NaN and out of range."""
    return int(v) if -2147483648.0 <= v < 2147483648.0 else -2147483648


def limits_of(groups):
    """nanoBragg's pass-1 limits: ints from 1e9/-1e9, compared with the doubles, truncated."""
    limits = []
    for axis in range(3):
        lo, hi = 1000000000, -1000000000
        for group in groups:
            v = group[axis]
            if lo > v:
                lo = c_int(v)
            if hi < v:
                hi = c_int(v)
        limits += [lo, hi]
    return tuple(limits)


@pytest.mark.parametrize("text, groups", [
    # glibc 2.36 fscanf("%lg") behaviour, checked with a small C program
    ("1e 2 3 4", [(1, 2, 3, 4)]),             # "1e" is consumed and read as 1
    ("1e+ 2 3 4", [(1, 2, 3, 4)]),
    ("1-2 3 4 5", [(1, -2, 3, 4)]),           # a sign starts a new number
    ("1.5.5 1 2 1+2 2 2 2", [(1.5, 0.5, 1, 2), (1, 2, 2, 2)]),
    ("0x10 1 2 3", [(16, 1, 2, 3)]),          # hex floats
    ("0x1.8p1 1 2 3", [(3, 1, 2, 3)]),
    ("0x1p 1 2 3", [(1, 1, 2, 3)]),
    ("0x 1 2 3", []),                         # "0x" without digits fails
    ("NaN inf -Infinity 4", [(math.nan, math.inf, -math.inf, 4)]),
    ("infin 1 2 3", []),                      # "inf" then "i" must be "infinity"
    ("nan(1) 1 2 3", []),                     # no "(...)": the "(" ends reading
    (". 1 2 3", []),
    ("1e5e5 1 2 3", []),
])
def test_pass_1_reads_what_fscanf_reads(text, groups):
    """Files that are not plain numbers are read by the C library's own fscanf (nanoBragg's loop)."""
    assert pass_1(text.encode(), exact=False) == (len(groups), limits_of(groups), False)


def test_pass_2_ints_are_what_fscanf_d_stores(tmp_path):
    # pass 1 leaves h at 0..0 (99999999999 truncates to INT_MIN); pass 2's "%d" cuts it to
    # 32 bits, like glibc: h = 1215752191, outside what pass 1 counted
    path = hkl_file(tmp_path, "99999999999 1 +5 1.0\n-0 007 3 2.5\n")
    with pytest.raises(InputError, match="reflection 1215752191 1 5 lies outside"):
        read_hkl(path, 0.0, Log())
    # "%d" reads the 3 of "3.0", then "%lg" reads ".0" as F: the stream is now misaligned
    sf = read_hkl(hkl_file(tmp_path, "-0 007 +3 2.5 1 2 3.0 4\n"), 9.0, Log())
    assert (sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max) == (0, 1, 2, 7, 3, 3)
    assert sf.grid[0, 5, 0] == 2.5 and sf.grid[1, 0, 0] == 0.0
    assert np.count_nonzero(sf.grid == 9.0) == 2 * 6 * 1 - 2


def test_read_hkl_negative_nan_warning_prints_minus_nan(tmp_path):
    log = Log()
    read_hkl(hkl_file(tmp_path, "-nan 1 1 4\n1 1 1 1\n"), 0.0, log)
    assert log.parts[1] == "WARNING: non-integer value for h (-nan) at line 0\n"


def test_read_hkl_pass2_index_outside_pass1_range_is_refused(tmp_path):
    # pass 1 makes h_max = (int)3e9 = INT_MIN and h_min = INT_MIN: range 1; pass 2's "%d"
    # reads 3000000000 as -1294967296, far outside it (nanoBragg writes out of bounds)
    path = hkl_file(tmp_path, "-2147483648 0 0 1\n3000000000 0 0 2\n")
    with pytest.raises(InputError, match=r"-hkl .*in\.hkl: reflection -1294967296 0 0 lies "
                                         r"outside"):
        read_hkl(path, 0.0, Log())


def test_read_hkl_absurd_range_is_refused(tmp_path):
    path = hkl_file(tmp_path, "-1000000 -1000000 -1000000 1\n1000000 1000000 1000000 1\n")
    with pytest.raises(InputError, match="too large"):
        read_hkl(path, 0.0, Log())


def read_both_ways(path, default_F=0.0):
    """read_hkl through the fast path and through the C library's fscanf."""
    fast_log, exact_log = Log(), Log()
    fast = read_hkl(path, default_F, fast_log)
    exact = read_hkl(path, default_F, exact_log, exact=True)
    return (fast, fast_log.text), (exact, exact_log.text)


def is_plain(data: bytes) -> bool:
    return pass_1(data, exact=False)[2]


def assert_same_structure_factors(a: StructureFactors, b: StructureFactors):
    assert concat(fdump_parts(a)) == concat(fdump_parts(b))
    assert a.hkls == b.hkls


def test_fast_and_exact_hkl_readers_agree_on_tiny():
    path = DATA / "tiny.hkl"
    assert is_plain(path.read_bytes())
    (fast, fast_log), (exact, exact_log) = read_both_ways(path, 3.0)
    assert_same_structure_factors(fast, exact)
    assert fast_log == exact_log


def random_hkl_text(rng: random.Random, n: int) -> str:
    lines = []
    for _ in range(n):
        h, k, l = (rng.randint(-9, 9) for _ in range(3))
        F = rng.choice([f"{rng.uniform(0, 500):.2f}", f"{rng.uniform(0, 5):.4e}", f"{rng.uniform(0, 5):.3E}",
                        f"+{rng.randint(0, 99)}", f"{rng.uniform(0, 1):.17g}", f"{rng.uniform(0, 1):.15g}",
                        f"{rng.uniform(-1e30, 1e30):.6g}", f"{rng.uniform(0, 1e-300):.5g}",
                        f"{rng.randint(0, 10**25)}", "-.5", "7.", "-0", "0.000000000000000000001234"])
        sep = rng.choice([" ", "  ", "\t"])
        end = rng.choice(["\n", "\r\n", "\n\n", " \v\f\n"])
        lines.append(sep.join([f"{h:+d}" if rng.random() < 0.2 else f"{h:4d}",
                               f"{k:4d}", f"{l:03d}" if l >= 0 else str(l), F]) + end)
    return "".join(lines)


@pytest.mark.parametrize("seed", range(5))
def test_fast_and_exact_hkl_readers_agree_on_random_files(tmp_path, seed):
    rng = random.Random(seed)
    path = hkl_file(tmp_path, random_hkl_text(rng, 300) + rng.choice(["", "1 2", "5 5 5"]))
    assert is_plain(path.read_bytes())
    (fast, fast_log), (exact, exact_log) = read_both_ways(path, seed * 1.5)
    assert_same_structure_factors(fast, exact)
    assert fast_log == exact_log


@pytest.mark.parametrize("text", ["1 2 3 4\n1 2 3.0 5\n", "1 2 3 4\n1e1 2 3 5\n",
                                  "1 2 3 4\n1-2 3 4 5\n", "1 2 3 4\n5 6 7 0x8\n",
                                  "1 2 3 4\n3000000000 1 1 1\n", "1 2 3 4 # x\n",
                                  "1 2 3 4\n1 2 3.5\n", "1 2 3 4 1-2 3 4\n", "1 2 3 1e\n",
                                  "1 2 3 4\0\n", "1 2 3 nan\n", "1 2 3 .\n"])
def test_fast_path_declines_what_it_cannot_be_sure_of(text):
    assert not is_plain(text.encode())


def test_left_over_tokens_can_make_a_pass_2_group(tmp_path):
    # pass 1: one group; pass 2: "1 2 3 4" then "5 6 7" + ".5" (5 is outside h 1..1)
    with pytest.raises(InputError, match="reflection 5 6 7 lies outside"):
        read_hkl(hkl_file(tmp_path, "1 2 3 4\n5 6 7.5"), 0.0, Log())


def test_golden_hkl_files_fast_and_exact_agree():
    for name in ("p1_small.hkl", "p1_sparse.hkl", "scaled.hkl"):
        path = golden_dir() / "inputs" / name
        assert is_plain(path.read_bytes()), name
        (fast, fast_log), (exact, exact_log) = read_both_ways(path, 25.0)
        assert_same_structure_factors(fast, exact)
        assert fast_log == exact_log

"""io.files: outputs written whole, or not at all (the one rule for every file)."""
import os
import stat

import numpy as np
import pytest

from nbgpu.base.errors import InputError
from nbgpu.io import save_file


def test_atomic_write_all_chunk_kinds(tmp_path):
    target = tmp_path / "out.bin"
    floats = np.arange(6, dtype=np.float64).reshape(2, 3)
    strided = np.arange(10, dtype=np.uint16)[::2]          # not contiguous
    parts = [b"ab", bytearray(b"cd"), memoryview(b"ef"), floats, strided]
    save_file(target, parts)
    expect = b"abcdef" + floats.tobytes() + strided.tobytes()
    assert target.read_bytes() == expect
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save_file(tmp_path / "f", [b"x"])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_atomic_write_replaces_existing_file(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old content")
    save_file(str(target), [b"new"])
    assert target.read_bytes() == b"new"


def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def parts():
        yield b"partial"
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match=r"cannot write .*f: No space left on device"):
        save_file(target, parts())
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_atomic_write_non_os_error_cleans_up(tmp_path):
    with pytest.raises(TypeError):
        save_file(tmp_path / "f", [b"ok", "a str is not bytes"])
    assert os.listdir(tmp_path) == []


def test_atomic_write_missing_directory(tmp_path):
    target = tmp_path / "nodir" / "f"
    with pytest.raises(InputError) as info:
        save_file(target, [b"x"])
    assert str(info.value) == f"cannot write {target}: No such file or directory"


def test_atomic_write_onto_directory(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="cannot write"):
        save_file(tmp_path / "d", [b"x"])
    assert sorted(os.listdir(tmp_path)) == ["d"]


def test_staged_files_are_all_or_none(tmp_path):
    """StagedFiles (noisify stages its noiseless image while the noise is drawn): nothing where
    the names point until finish(); discard() after a failure leaves no file, not even scratch."""
    from nbgpu.io.files import StagedFiles
    first, second = tmp_path / "int.img", tmp_path / "noise.img"
    staging = StagedFiles()
    staging.stage([(first, [b"abc"])])
    assert not first.exists()
    staging.discard()
    assert list(tmp_path.iterdir()) == []
    staging = StagedFiles()
    staging.stage([(first, [b"abc"])])
    staging.finish([(second, [b"de", b"f"])])
    assert first.read_bytes() == b"abc" and second.read_bytes() == b"def"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int.img", "noise.img"]

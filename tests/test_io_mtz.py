"""-hkl FILE from MTZ and SF-mmCIF files (io/mtz.py): files made here with gemmi."""
import numpy as np
import pytest

import nbgpu
from nbgpu.base.errors import InputError
from nbgpu.io import read_hkl
from nbgpu.io.structure_factors import read_structure_factors
from nbgpu.setup.prepare import prepare

gemmi = pytest.importorskip("gemmi")

CELL = (30.0, 40.0, 50.0, 90.0, 90.0, 90.0)
REFLECTIONS = [(1, 2, 3, 100.0), (0, 0, 2, 250.5), (2, -1, 1, 42.0), (-3, 1, 0, 7.25), (1, 1, 1, 60.0)]


def make_mtz(path, spacegroup="P 1", columns=(("F", "F"),), rows=REFLECTIONS, cell=CELL):
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = gemmi.SpaceGroup(spacegroup)
    mtz.set_cell_for_all(gemmi.UnitCell(*cell))
    mtz.add_dataset("sim")
    for label, kind in columns:
        mtz.add_column(label, kind)
    data = np.array([[h, k, l] + [F * (i + 1) for i in range(len(columns))] for h, k, l, F in rows],
                    dtype=np.float32)
    mtz.set_data(data)
    mtz.write_to_file(str(path))
    return path


def make_text(path, rows):
    path.write_text("".join(f"{h} {k} {l} {F}\n" for h, k, l, F in rows))
    return path


def read(path, column=None, default_F=0.0):
    said = []
    return read_structure_factors(str(path), default_F, column, said.append), said


def with_friedel(rows):
    out = {}
    for h, k, l, F in rows:
        out[(h, k, l)] = F
        out[(-h, -k, -l)] = F
    return [(h, k, l, F) for (h, k, l), F in out.items()]


def test_p1_mtz_gives_the_text_lists_grid_and_image(tmp_path):
    sf, said = read(make_mtz(tmp_path / "p1.mtz"))
    text = make_text(tmp_path / "p1.hkl", with_friedel(REFLECTIONS))
    ref = read_hkl(str(text), 0.0, lambda *a: None)
    assert (sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max, sf.hkls) == (
        ref.h_min, ref.h_max, ref.k_min, ref.k_max, ref.l_min, ref.l_max, ref.hkls)
    assert np.array_equal(sf.grid, ref.grid)
    assert sf.cell == pytest.approx(CELL)
    assert said == [f"reading {tmp_path / 'p1.mtz'} as MTZ: 5 reflections, column F, space group P 1 -> 10 in P1\n"]
    common = "-cell 30 40 50 90 90 90 -N 3 -detpixels 32 -distance 60 -pixel 0.4 -dump " + str(tmp_path / "d.bin")
    a = nbgpu.simulate(f"-hkl {tmp_path / 'p1.mtz'} {common}")
    b = nbgpu.simulate(f"-hkl {text} {common}")
    assert a.image.tobytes() == b.image.tobytes() and a.image.max() > 0


def test_p212121_expands_with_its_operators_and_friedel_mates(tmp_path):
    sf, said = read(make_mtz(tmp_path / "p212121.mtz", "P 21 21 21", rows=[(1, 2, 3, 100.0), (0, 0, 2, 20.0)]))
    grid = sf.grid

    def F(h, k, l):
        return grid[h - sf.h_min, k - sf.k_min, l - sf.l_min]
    for h, k, l in [(1, 2, 3), (-1, -2, 3), (1, -2, -3), (-1, 2, -3), (-1, -2, -3), (1, 2, -3), (-1, 2, 3), (1, -2, 3)]:
        assert F(h, k, l) == 100.0
    assert F(0, 0, 2) == F(0, 0, -2) == 20.0
    assert F(0, 0, 1) == 0.0 and F(1, 2, 2) == 0.0
    assert sf.hkls == 10
    assert "space group P 21 21 21 -> 10 in P1" in said[0]


def test_the_column_flag_picks_the_named_column(tmp_path):
    path = make_mtz(tmp_path / "two.mtz", columns=(("FP", "F"), ("FC", "F")))
    sf, said = read(path)                          # FC comes first in the default order
    assert "column FC" in said[0] and sf.grid.max() == 2 * 250.5
    sf, said = read(path, column="FP")
    assert "column FP" in said[0] and sf.grid.max() == 250.5
    s = prepare(["-hkl", str(path), "-sf_column", "FP", "-N", "1"])
    assert s.structure_factors.grid.max() == 250.5


def test_a_missing_column_names_flag_file_and_columns(tmp_path):
    path = make_mtz(tmp_path / "two.mtz", columns=(("FP", "F"), ("FC", "F")))
    with pytest.raises(InputError) as err:
        read(path, column="FOBS")
    message = str(err.value)
    assert "-sf_column FOBS" in message and str(path) in message and "FP, FC" in message
    assert "\n" not in message


@pytest.mark.parametrize("cell", [(30, 40, 50, 179, 179, 179), (30, 40, 50, 90, 90, 180), (0, 40, 50, 90, 90, 90)])
def test_an_mtz_cell_without_volume_is_one_input_error(tmp_path, cell):
    """A cell that encloses no volume is refused, as for a model (nanoBragg would render an
    'oddball' cell from it)."""
    path = make_mtz(tmp_path / "flat.mtz", cell=cell)
    with pytest.raises(InputError) as err:
        read(path)
    assert str(path) in str(err.value) and "has no volume" in str(err.value) and "\n" not in str(err.value)


def test_has_volume_is_the_cell_volume_test():
    from nbgpu.io.p1 import has_volume
    assert has_volume((30, 40, 50, 90, 90, 90)) and has_volume((30, 30, 40, 90, 90, 120))
    assert has_volume((30, 40, 50, 80, 85, 95))
    assert not has_volume((30, 40, 50, 150, 150, 150)) and not has_volume((30, 40, 50, 90, 90, float("nan")))


def test_a_corrupt_mtz_is_one_input_error(tmp_path):
    path = tmp_path / "bad.mtz"
    path.write_bytes(b"MTZ " + bytes(range(256)) * 4)
    with pytest.raises(InputError) as err:
        read(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_intensities_are_converted_with_a_warning(tmp_path):
    sf, said = read(make_mtz(tmp_path / "i.mtz", columns=(("IMEAN", "J"),),
                             rows=[(1, 0, 0, 400.0), (0, 1, 0, -5.0)]))
    assert said[0].startswith("WARNING") and "IMEAN" in said[0]
    assert sf.grid[1 - sf.h_min, -sf.k_min, -sf.l_min] == 20.0
    assert sf.grid[-sf.h_min, 1 - sf.k_min, -sf.l_min] == 0.0


def test_without_cell_or_mat_the_files_cell_is_used(tmp_path):
    path = make_mtz(tmp_path / "p1.mtz")
    s = prepare(["-hkl", str(path), "-N", "1", "-dump", str(tmp_path / "d.bin")])
    typed = prepare(["-hkl", str(path), "-cell", "30", "40", "50", "90", "90", "90", "-N", "1",
                     "-dump", str(tmp_path / "d.bin")])
    assert s.crystal.lattice == typed.crystal.lattice
    assert not any("differs" in w for w in typed.told.warnings)


def test_a_mismatching_cell_warns(tmp_path):
    path = make_mtz(tmp_path / "p1.mtz")
    s = prepare(["-hkl", str(path), "-cell", "31", "40", "50", "90", "90", "90", "-N", "1",
                 "-dump", str(tmp_path / "d.bin")])
    warned = [w for w in s.told.warnings if "differs" in w]
    assert len(warned) == 1 and "31 40 50 90 90 90" in warned[0] and "30 40 50 90 90 90" in warned[0]


def test_an_sf_mmcif_is_read_like_the_mtz(tmp_path):
    mtz_path = make_mtz(tmp_path / "p1.mtz", "P 21 21 21", columns=(("FP", "F"),))
    rows = "".join(f"{h} {k} {l} {F}\n" for h, k, l, F in REFLECTIONS)
    (tmp_path / "p1.cif").write_text(
        "data_r1sfsf\n_cell.length_a 30\n_cell.length_b 40\n_cell.length_c 50\n"
        "_cell.angle_alpha 90\n_cell.angle_beta 90\n_cell.angle_gamma 90\n"
        "_symmetry.space_group_name_H-M 'P 21 21 21'\n"
        "loop_\n_refln.index_h\n_refln.index_k\n_refln.index_l\n_refln.F_meas_au\n" + rows)
    a, _ = read(mtz_path)
    b, said = read(tmp_path / "p1.cif")
    assert "as mmCIF" in said[0] and "column F_meas_au" in said[0]
    assert np.array_equal(a.grid, b.grid) and b.cell == pytest.approx(CELL)


def test_without_gemmi_an_mtz_is_one_input_error(tmp_path, monkeypatch):
    path = make_mtz(tmp_path / "p1.mtz")
    monkeypatch.setitem(__import__("sys").modules, "gemmi", None)
    with pytest.raises(InputError) as err:
        read(path)
    assert str(err.value) == f"-hkl {path}: reading MTZ/mmCIF needs gemmi: pip install 'nbgpu[structures]'"


def test_anomalous_columns_keep_friedel_mates_apart(tmp_path):
    path = make_mtz(tmp_path / "anom.mtz", "P 21 21 21", columns=(("F(+)", "G"), ("F(-)", "G")),
                    rows=[(1, 2, 3, 100.0)])            # F(+) = 100, F(-) = 200
    sf, said = read(path)
    grid = sf.grid

    def F(h, k, l):
        return grid[h - sf.h_min, k - sf.k_min, l - sf.l_min]
    for h, k, l in [(1, 2, 3), (-1, -2, 3), (1, -2, -3), (-1, 2, -3)]:
        assert F(h, k, l) == 100.0 and F(-h, -k, -l) == 200.0
    assert "column F(+)/F(-)" in said[0] and "-> 8 in P1" in said[0]
    both, _ = read(make_mtz(tmp_path / "both.mtz", columns=(("F", "F"), ("F(+)", "G"), ("F(-)", "G"))))
    assert both.grid.max() == 250.5                     # an amplitude of the default order comes first


def test_a_text_list_from_a_fifo_is_read_once(tmp_path):
    """The content decides the format, so the bytes read to decide it are the ones parsed: a
    FIFO gives them once (read twice, the render would wait for a writer that has gone)."""
    import os
    import threading
    source = make_text(tmp_path / "source.hkl", REFLECTIONS)
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(source.read_bytes()), daemon=True)
    feeder.start()
    got = []
    reader = threading.Thread(target=lambda: got.append(read(fifo)[0]), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert got, "the FIFO was opened a second time: the read waits for a writer that has gone"
    assert np.array_equal(got[0].grid, read(source)[0].grid) and got[0].hkls == len(REFLECTIONS)

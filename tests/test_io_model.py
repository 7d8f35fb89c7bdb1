"""-hkl MODEL (io/model.py: |Fcalc| by FFT through gemmi) and `nbgpu sf` (run/export.py): models
and MTZ files made here with gemmi, nothing downloaded."""
import io
import math

import numpy as np
import pytest

import nbgpu
from helpers import run_cli
from nbgpu.cli.main import main as cli_main
from nbgpu.io.model import fcalc, read_model
from nbgpu.io.structure_factors import kind_of, read_structure_factors
from nbgpu.setup.cache import InputCache
from nbgpu.setup.prepare import prepare
from nbgpu.setup.resolution import fcalc_request

gemmi = pytest.importorskip("gemmi")

ELEMENTS = ("C", "N", "O", "S", "Fe")
GEOMETRY = ["-N", "3", "-detpixels", "48", "-distance", "60", "-pixel", "0.4", "-nonoise", "-nopgm"]
# space groups of the acceptance, each with a cell it allows
CELL = (30, 40, 50, 90, 90, 90)
GROUPS = {"P 1": (30, 35, 40, 80, 85, 95), "P 1 21 1": (30, 40, 50, 90, 100, 90),
          "C 1 2 1": (60, 40, 30, 90, 110, 90), "P 21 21 21": (30, 40, 50, 90, 90, 90),
          "P 61 2 2": (40, 40, 60, 90, 90, 120), "R 3": (50, 50, 40, 90, 90, 120), "I 2 3": (50, 50, 50, 90, 90, 90)}


def structure(spacegroup="P 21 21 21", cell=GROUPS["P 21 21 21"], atoms=30, seed=1):
    """A model of `atoms` random atoms (mixed elements, B 10-30) in the cell's asymmetric unit."""
    rng = np.random.default_rng(seed)
    st = gemmi.Structure()
    st.cell = gemmi.UnitCell(*cell)
    st.spacegroup_hm = spacegroup
    model, chain = gemmi.Model("1"), gemmi.Chain("A")
    for i in range(atoms):
        residue = gemmi.Residue()
        residue.name, residue.seqid = "HOH", gemmi.SeqId(i + 1, " ")
        atom = gemmi.Atom()
        element = ELEMENTS[i % len(ELEMENTS)]
        atom.name, atom.element = element.upper(), gemmi.Element(element)
        atom.pos = st.cell.orthogonalize(gemmi.Fractional(*rng.random(3)))
        atom.b_iso, atom.occ = 10 + 20 * rng.random(), 1.0
        residue.add_atom(atom)
        chain.add_residue(residue)
    model.add_chain(chain)
    st.add_model(model)
    st.setup_entities()
    return st


def write_model(st, path):
    if str(path).endswith(".pdb"):
        st.write_pdb(str(path))
    else:
        st.make_mmcif_document().write_file(str(path))
    return path


def model_of(path):
    return read_model(path.read_bytes(), str(path), kind_of(path.read_bytes()), lambda *a: None)


def direct_sum(st, hkl):
    """Complex F by a sum over every atom of the cell: IT92 form factors, each atom's B."""
    cell, ops = st.cell, gemmi.find_spacegroup_by_name(st.spacegroup_hm).operations()
    s2 = np.array([cell.calculate_1_d2(h) for h in hkl.tolist()])
    F = np.zeros(len(hkl), complex)
    for residue in st[0]["A"]:
        for atom in residue:
            coefs = atom.element.it92.get_coefs()
            a, b, c = np.array(coefs[:4]), np.array(coefs[4:8]), coefs[8]
            f = (a * np.exp(-np.outer(s2, b) / 4)).sum(axis=1) + c
            f *= atom.occ * np.exp(-atom.b_iso * s2 / 4)
            x = cell.fractionalize(atom.pos).tolist()
            for op in ops:
                F += f * np.exp(2j * np.pi * (hkl @ np.array(op.apply_to_xyz(x))))
    return F


def F_at(sf, h, k, l):
    return sf.grid[h - sf.h_min, k - sf.k_min, l - sf.l_min]


@pytest.mark.parametrize("suffix", [".cif", ".pdb"])
def test_a_model_renders_as_the_text_list_exported_from_it(tmp_path, suffix, monkeypatch):
    """Bit-identical images (C engine) and identical grids handed to the engine, which is what
    makes the CUDA engine agree too; the dumps are the same bytes."""
    monkeypatch.chdir(tmp_path)
    path = write_model(structure(), tmp_path / f"model{suffix}")
    argv = ["-hkl", str(path), "-dump", "a.bin", "-floatfile", "a.float", "-intfile", "a.img", *GEOMETRY]
    s = prepare(argv)
    dmin = fcalc_request(s.flags, (s.detector,), s.beam, s.crystal.lattice, s.structure_factors.cell).dmin
    assert any(f"to {dmin:g} A" in line for line in s.told.lines if isinstance(line, str))
    assert cli_main(["sf", str(path), "--dmin", repr(dmin), "--hkl", "P1.hkl"]) == 0
    text = prepare(["-hkl", "P1.hkl", "-cell", "30", "40", "50", "90", "90", "90", "-dump", "b.bin", *GEOMETRY])
    a, b = s.structure_factors, text.structure_factors
    assert (a.h_min, a.h_max, a.k_min, a.k_max, a.l_min, a.l_max, a.hkls) == (
        b.h_min, b.h_max, b.k_min, b.k_max, b.l_min, b.l_max, b.hkls)
    assert np.array_equal(a.grid, b.grid) and a.grid.max() > 0
    one = nbgpu.simulate(argv + ["-backend", "c"], write_files=True)
    two = nbgpu.simulate(["-hkl", "P1.hkl", "-cell", "30", "40", "50", "90", "90", "90", "-dump", "b.bin",
                          "-floatfile", "b.float", "-intfile", "b.img", "-backend", "c", *GEOMETRY], write_files=True)
    assert one.image.tobytes() == two.image.tobytes() and one.image.max() > 0
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


def test_an_mtz_renders_as_the_text_list_exported_from_it(tmp_path, monkeypatch):
    from test_io_mtz import make_mtz
    monkeypatch.chdir(tmp_path)
    path = make_mtz(tmp_path / "x.mtz", "P 21 21 21", columns=(("FP", "F"), ("FC", "F")))
    assert cli_main(["sf", str(path), "--column", "FP", "--hkl", "P1.hkl", "--stol", "x.stol"]) == 0
    common = ["-cell", "30", "40", "50", "90", "90", "90", "-dump", "d.bin", "-backend", "c", *GEOMETRY]
    a = nbgpu.simulate(["-hkl", str(path), "-sf_column", "FP", *common])
    b = nbgpu.simulate(["-hkl", "P1.hkl", *common])
    assert np.array_equal(a.setup.structure_factors.grid, b.setup.structure_factors.grid)
    assert a.image.tobytes() == b.image.tobytes() and a.image.max() > 0
    lines = (tmp_path / "P1.hkl").read_text().splitlines()
    assert len(lines) == 30 and "1 2 3 100.0" in lines and "-1 2 -3 100.0" in lines and "-1 -2 -3 100.0" in lines


def test_fcalc_agrees_with_a_direct_sum_over_atoms(tmp_path):
    """R <= 1 % without solvent (C2: centred, monoclinic), F000 the electrons of the cell, and
    -B_add's overall B as exp(-B s^2/4)."""
    st = structure("C 1 2 1", GROUPS["C 1 2 1"], atoms=12)
    model = model_of(write_model(st, tmp_path / "c2.cif"))
    for b_add in (0.0, 8.0):
        got = fcalc(model, 3.0, 0.0, 46.0, b_add, lambda *a: None)
        unique = np.unique(np.abs(got.hkl) @ np.array([1, 1000, 1000000]), return_index=True)[1]
        hkl = got.hkl[unique]
        want = np.abs(direct_sum(st, hkl)) * np.exp(-b_add * gemmi.UnitCell(*GROUPS["C 1 2 1"])
                                                    .calculate_1_d2_array(hkl.astype(np.int32)) / 4)
        F = got.F[unique]
        assert np.abs(F - want).sum() / want.sum() <= 0.01
    electrons = 4 * sum(atom.element.atomic_number for residue in st[0]["A"] for atom in residue)
    F000 = got.F[np.all(got.hkl == 0, axis=1)][0]
    assert F000 == pytest.approx(electrons, rel=0.01)


def test_bulk_solvent_adds_to_the_low_resolution_terms(tmp_path):
    model = model_of(write_model(structure(atoms=60), tmp_path / "m.pdb"))
    dry = fcalc(model, 3.0, 0.0, 46.0, 0.0, lambda *a: None)
    said = []
    wet = fcalc(model, 3.0, 0.35, 46.0, 0.0, said.append)
    assert np.array_equal(dry.hkl, wet.hkl)
    origin = np.all(dry.hkl == 0, axis=1)
    volume = gemmi.UnitCell(*GROUPS["P 21 21 21"]).volume
    assert 0 < wet.F[origin][0] - dry.F[origin][0] < 0.35 * volume      # k_sol x the solvent's volume
    assert "bulk solvent k_sol 0.35 e/A^3 B_sol 46 A^2" in said[0]


@pytest.mark.parametrize("spacegroup", sorted(GROUPS))
def test_p1_expansion_counts_and_mates(spacegroup, tmp_path):
    """Every reflection within dmin but the systematic absences, once, each with its symmetry
    mates' and Friedel mate's amplitude; counted against gemmi's own lists."""
    cell, dmin = GROUPS[spacegroup], 3.93                  # no reflection on the limit
    model = model_of(write_model(structure(spacegroup, cell, atoms=8), tmp_path / "m.cif"))
    got = fcalc(model, dmin, 0.0, 46.0, 0.0, lambda *a: None)
    sg, uc = gemmi.SpaceGroup(spacegroup), gemmi.UnitCell(*cell)
    assert got.unique == len(gemmi.make_miller_array(uc, sg, dmin, unique=True)) + 1          # and F000
    everything = gemmi.make_miller_array(uc, gemmi.SpaceGroup("P 1"), dmin, unique=False)
    present = [h for h in everything.tolist() if not sg.operations().is_systematically_absent(h)]
    assert len(got.F) == len(present) + 1
    values = {tuple(h): F for h, F in zip(got.hkl.tolist(), got.F.tolist())}
    asu = gemmi.ReciprocalAsu(sg)
    for h in present:
        mate = asu.to_asu(h, sg.operations())[0]
        assert values[tuple(h)] == values[tuple(mate)]


@pytest.mark.parametrize("spacegroup", sorted(GROUPS))
def test_anomalous_pairs_stay_apart_in_every_group(spacegroup, tmp_path):
    """F(+) on a reflection's symmetry mates, F(-) on theirs Friedel mates (acentric ones)."""
    from test_io_mtz import make_mtz
    cell, sg = GROUPS[spacegroup], gemmi.SpaceGroup(spacegroup)
    rows = [(*h, 10.0 + i) for i, h in enumerate(gemmi.make_miller_array(gemmi.UnitCell(*cell), sg, 8.0).tolist())]
    path = make_mtz(tmp_path / "a.mtz", spacegroup, columns=(("F(+)", "G"), ("F(-)", "G")), rows=rows, cell=cell)
    sf = read_structure_factors(str(path), 0.0, None, lambda *a: None)
    ops = sg.operations()
    for h, k, l, F in rows:
        if ops.is_reflection_centric([h, k, l]):
            continue
        for op in ops:
            mate = op.apply_to_hkl([h, k, l])
            assert F_at(sf, *mate) == F and F_at(sf, *(-x for x in mate)) == 2 * F


def test_the_fcalc_is_computed_once_for_runs_sharing_it(tmp_path, monkeypatch):
    """Through the input cache: a second run with the same model and geometry, a batch line, a
    Simulator frame do not recompute; another resolution does.  The dump serves a later run."""
    monkeypatch.chdir(tmp_path)
    write_model(structure(), tmp_path / "m.pdb")
    count = []
    transform = gemmi.transform_map_to_f_phi
    monkeypatch.setattr(gemmi, "transform_map_to_f_phi", lambda *a, **k: count.append(1) or transform(*a, **k))
    cache = InputCache()
    first = prepare(["-hkl", "m.pdb", *GEOMETRY], cache)
    again = prepare(["-hkl", "m.pdb", "-phi", "10", *GEOMETRY], cache)
    assert len(count) == 1 and again.structure_factors is first.structure_factors
    assert [line for line in again.told.lines if "computing Fcalc" in str(line)]        # its log line replayed
    prepare(["-hkl", "m.pdb", *GEOMETRY, "-distance", "40"], cache)
    assert len(count) == 2
    count.clear()
    (tmp_path / "jobs.txt").write_text("".join(f"-hkl m.pdb -phi {phi} -floatfile f{phi}.bin -intfile i{phi}.img "
                                               + " ".join(GEOMETRY) + "\n" for phi in (0, 5)))
    assert nbgpu.run_batch("jobs.txt", stream=io.StringIO()) == 0
    assert len(count) == 1
    reference = (tmp_path / "f5.bin").read_bytes()
    later = nbgpu.simulate(["-cell", "30", "40", "50", "90", "90", "90", "-phi", "5", *GEOMETRY])     # Fdump.bin
    assert later.image.tobytes() == np.frombuffer(reference, np.float32).tobytes()


def test_the_resolution_follows_the_detector_and_dmin():
    near = prepare(["-cell", "30", "40", "50", "90", "90", "90", "-default_F", "1", *GEOMETRY])
    far = prepare(["-cell", "30", "40", "50", "90", "90", "90", "-default_F", "1", *GEOMETRY, "-distance", "200"])
    cut = prepare(["-cell", "30", "40", "50", "90", "90", "90", "-default_F", "1", *GEOMETRY, "-dmin", "8"])

    def request(s):
        return fcalc_request(s.flags, (s.detector,), s.beam, s.crystal.lattice, CELL)
    d = near.detector
    corners = [[p + u * d.fpixels * d.pixel_size * f + v * d.spixels * d.pixel_size * s
                for p, f, s in zip(d.pix0, d.fdet, d.sdet)] for u in (0, 1) for v in (0, 1)]
    widest = max(math.acos(c[0] / math.hypot(*c)) for c in corners)                  # beam along x
    steps = math.sqrt(sum(1 / x ** 2 for x in CELL[:3]))                              # the cell's diagonal

    def with_margin(s_reach):
        return math.floor(100 / (1.02 * s_reach + 2 * steps)) / 100
    assert request(near).dmin == pytest.approx(with_margin(2 * math.sin(widest / 2)), abs=0.0100001)
    assert request(far).dmin > request(near).dmin
    assert request(cut).dmin == pytest.approx(with_margin(1 / 8), abs=0.0100001) and request(cut).dmin < 8.0


CRYST1 = "CRYST1   30.000   40.000   50.000  90.00  90.00  90.00 P 1                      \n"
ATOM = "ATOM      1  C   HOH A   1       1.000   2.000   3.000  1.00 20.00           C\n"
BAD_MODELS = {
    "nocell.pdb": ("ATOM      1  C   HOH A   1       1.000   2.000   3.000  1.00 20.00           C\n",
                   "no unit cell"),
    "badsg.pdb": ("CRYST1   30.000   40.000   50.000  90.00  90.00  90.00 X 99 9                  \n"
                  "ATOM      1  C   HOH A   1       1.000   2.000   3.000  1.00 20.00           C\n",
                  "unknown space group"),
    "corrupt.pdb": ("CRYST1   30.000   40.000   50.000  90.00  90.00  90.00 P 1                      \n"
                    "ATOM  junk\n", "cannot read it as a PDB model"),
    "corrupt.cif": ("data_x\n_cell.length_a 30\nloop_\n_atom_site.id\n_atom_site.type_symbol\n'unterminated\n",
                    "cannot read it as a mmCIF model"),
    "flat.pdb": ("CRYST1   30.000   40.000   50.000 179.00 179.00 179.00 P 1                      \n" + ATOM,
                 "has no volume"),
    "zero.pdb": ("CRYST1    0.000    0.000    0.000  90.00  90.00  90.00 P 1                      \n" + ATOM,
                 "has no volume"),
    "cubic.pdb": ("CRYST1   30.000   40.000   50.000  90.00  90.00  90.00 F 4 3 2                  \n" + ATOM,
                  "does not fit its space group F 4 3 2"),
    "element.pdb": (CRYST1 + ATOM.replace("           C\n", "          XX\n"), "unknown element"),
    "nanxyz.pdb": (CRYST1 + ATOM.replace("   1.000   2.000", "     NaN   2.000"), "coordinates that are not finite"),
    "nanb.pdb": (CRYST1 + ATOM.replace("20.00", "  NaN"), "B nan"),
    "negb.pdb": (CRYST1 + ATOM.replace("20.00", "-5.00"), "B -5"),
    "negocc.pdb": (CRYST1 + ATOM.replace("1.00 20.00", "-1.00 20.00"), "occupancy -1"),
    "huge.pdb": ("CRYST1 3000.000 3000.000 3000.000  90.00  90.00  90.00 P 1                      \n"
                 "ATOM      1  C   HOH A   1       1.000   2.000   3.000  1.00 20.00           C\n",
                 "Fcalc to"),
}


@pytest.mark.parametrize("name", sorted(BAD_MODELS))
def test_a_bad_model_is_one_line_naming_flag_and_file_and_nothing_is_written(name, tmp_path):
    content, reason = BAD_MODELS[name]
    (tmp_path / name).write_text(content)
    cell = ["3000", "3000", "3000"] if name == "huge.pdb" else ["30", "40", "50"]
    done = run_cli(["-hkl", name, "-cell", *cell, "90", "90", "90", *GEOMETRY], tmp_path)
    lines = done.stderr.splitlines()
    assert done.returncode == 9 and len(lines) == 1, done.stderr
    assert f"-hkl {name}" in lines[0] and reason in lines[0] and "Traceback" not in done.stderr
    if name == "huge.pdb":
        assert "GiB" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    done = run_cli(["sf", name, "--dmin", "2", "--hkl", "P1.hkl"], tmp_path)
    assert done.returncode == 9 and len(done.stderr.splitlines()) == 1 and name in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_without_gemmi_a_model_or_an_export_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    path = write_model(structure(), tmp_path / "m.pdb")
    monkeypatch.setitem(__import__("sys").modules, "gemmi", None)
    with pytest.raises(nbgpu.InputError) as err:
        read_structure_factors(str(path), 0.0, None, lambda *a: None)
    assert str(err.value) == f"-hkl {path}: reading a coordinate model needs gemmi: pip install 'nbgpu[structures]'"
    from nbgpu.run.export import Export, export
    with pytest.raises(nbgpu.InputError) as err:
        export(Export(source=str(path), hkl=str(tmp_path / "P1.hkl"), dmin=3.0), lambda *a: None)
    assert "pip install 'nbgpu[structures]'" in str(err.value) and not (tmp_path / "P1.hkl").exists()


def test_the_stol_table_is_the_rms_F_per_bin(tmp_path):
    from test_io_mtz import make_mtz
    path = make_mtz(tmp_path / "p1.mtz", rows=[(1, 0, 0, 3.0), (0, 1, 0, 4.0), (0, 0, 1, 12.0)],
                    cell=(100, 100, 100, 90, 90, 90))
    assert cli_main(["sf", str(path), "--stol", str(tmp_path / "x.stol")]) == 0
    rows = [tuple(map(float, line.split())) for line in (tmp_path / "x.stol").read_text().splitlines()]
    assert rows == [(0.005, math.sqrt((9 + 16 + 144) / 3))]                # one bin: stol 1/(2*100)
    table = nbgpu.nonbragg(["-stol", str(tmp_path / "x.stol"), "-detpixels", "8", "-nonoise"])
    assert table.image.max() > 0


def test_the_margin_keeps_tricubic_interpolation_on(tmp_path, monkeypatch, capsys):
    """With the model's own resolution the interpolation finds every neighbour; cut short of the
    detector's reach, it runs out and switches off, as nanoBragg does."""
    monkeypatch.chdir(tmp_path)
    write_model(structure(), tmp_path / "m.pdb")
    words = ["-interpolate", "-N", "2", "-detpixels", "48", "-distance", "60", "-pixel", "0.4", "-nonoise",
             "-backend", "c"]
    s = prepare(["-hkl", "m.pdb", *words])
    dmin = fcalc_request(s.flags, (s.detector,), s.beam, s.crystal.lattice, CELL).dmin
    nbgpu.simulate(["-hkl", "m.pdb", *words], verbose=True)
    assert "out of range for three point interpolation" not in capsys.readouterr().out
    assert cli_main(["sf", "m.pdb", "--dmin", repr(1.9 * dmin), "--hkl", "bare.hkl"]) == 0     # short of the reach
    capsys.readouterr()
    nbgpu.simulate(["-hkl", "bare.hkl", "-cell", "30", "40", "50", "90", "90", "90", *words], verbose=True)
    assert "out of range for three point interpolation" in capsys.readouterr().out


# ---------------------------------------------------------------- review fixes (issue: model defects)

G = ["-N", "2", "-detpixels", "24", "-pixel", "0.5", "-distance", "40", "-lambda", "1", "-nonoise", "-nopgm",
     "-intfile", "/dev/null", "-floatfile", "/dev/null", "-dumpfile", "/dev/null"]


def one_error(done, *names):
    lines = done.stderr.splitlines()
    assert done.returncode == 9 and len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "RuntimeWarning" not in done.stderr
    assert all(name in lines[0] for name in names), lines[0]


SF_REFUSALS = {            # words after `nbgpu sf m.pdb`, what the line names
    "dmin inf": (["--dmin", "inf", "--hkl", "y.hkl"], "--dmin"),
    "dmin negative": (["--dmin", "-2", "--hkl", "y.hkl"], "--dmin"),
    "k_sol nan": (["--dmin", "3", "--k-sol", "nan", "--hkl", "y.hkl"], "--k-sol"),
    "k_sol negative": (["--dmin", "3", "--k-sol", "-0.3", "--hkl", "y.hkl"], "--k-sol"),
    "B_sol nan": (["--dmin", "3", "--k-sol", "0.3", "--B-sol", "nan", "--hkl", "y.hkl"], "--B-sol"),
    "B_sol negative": (["--dmin", "3", "--k-sol", "0.3", "--B-sol", "-1e5", "--hkl", "y.hkl"], "--B-sol"),
    "B_add inf": (["--dmin", "3", "--B-add", "inf", "--hkl", "y.hkl"], "--B-add"),
    "B_add overflows": (["--dmin", "3", "--B-add", "-1e6", "--hkl", "y.hkl"], "--B-add"),
    "width inf": (["--dmin", "3", "--stol-width", "inf", "--stol", "y.stol"], "--stol-width"),
    "width zero": (["--dmin", "3", "--stol-width", "0", "--stol", "y.stol"], "--stol-width"),
    "width tiny": (["--dmin", "3", "--stol-width", "1e-300", "--stol", "y.stol"], "--stol-width"),
    "one file twice": (["--dmin", "3", "--hkl", "y.txt", "--stol", "y.txt"], "also written by"),
    "over the source": (["--dmin", "3", "--hkl", "m.pdb"], "the source file"),
    "nothing left": (["--dmin", "100", "--hkl", "y.hkl"], "no reflections"),
}


@pytest.mark.parametrize("case", sorted(SF_REFUSALS))
def test_nbgpu_sf_refuses_bad_options_and_empty_or_infinite_results(case, tmp_path):
    words, named = SF_REFUSALS[case]
    write_model(structure(), tmp_path / "m.pdb")
    before = (tmp_path / "m.pdb").read_bytes()
    one_error(run_cli(["sf", "m.pdb", *words], tmp_path, timeout=120), named)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pdb"] and (tmp_path / "m.pdb").read_bytes() == before


def test_an_mtz_cut_to_nothing_is_refused(tmp_path):
    from test_io_mtz import make_mtz
    make_mtz(tmp_path / "m.mtz")
    one_error(run_cli(["sf", "m.mtz", "--dmin", "100", "--hkl", "y.hkl", "--stol", "y.stol"], tmp_path),
              "m.mtz", "no reflections")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mtz"]


@pytest.mark.parametrize("words,named", [(["-B_add", "-1e6"], "-B_add"), (["-k_sol", "0.3", "-B_sol", "-1e5"], "-B_sol"),
                                         (["-k_sol", "inf"], "-k_sol"), (["-k_sol", "-1"], "-k_sol")])
def test_hkl_model_refuses_what_sf_refuses_in_one_line(words, named, tmp_path):
    write_model(structure(), tmp_path / "m.pdb")
    one_error(run_cli(["-hkl", "m.pdb", *G, *words], tmp_path), named)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pdb"]


def test_a_model_without_a_cell_says_so_when_no_crystal_is_given(tmp_path):
    (tmp_path / "nocell.pdb").write_text(ATOM)
    one_error(run_cli(["-hkl", "nocell.pdb", *G], tmp_path), "-hkl nocell.pdb", "no unit cell")
    done = run_cli(["-default_F", "1", *G], tmp_path)          # nanoBragg's usage exit stays
    assert done.returncode == 9 and "no crystal" in done.stderr


@pytest.mark.parametrize("given", ["-cell", "-mat"])
def test_the_fcalc_reaches_the_detector_in_a_lattice_other_than_the_model_s(given, tmp_path):
    """Model cell 30 40 50 rendered as 60 80 100: the indices reach twice as far, so the Fcalc
    (in the model's cell) goes twice as fine; interpolation finds every neighbour; -mat warns
    about the differing cell as -cell does."""
    write_model(structure(), tmp_path / "m.pdb")
    (tmp_path / "A.mat").write_text(f"{1 / 60!r} 0 0\n0 {1 / 80!r} 0\n0 0 {1 / 100!r}\n")
    crystal = ["-cell", "60", "80", "100", "90", "90", "90"] if given == "-cell" else ["-mat", "A.mat"]
    done = run_cli(["-hkl", "m.pdb", *G, "-interpolate", *crystal], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "out of range for three point interpolation" not in done.stdout
    warning = [line for line in done.stderr.splitlines() if "differs from the cell of -hkl m.pdb" in line]
    assert len(warning) == 1 and "60 80 100 90 90 90" in warning[0] and "(30 40 50 90 90 90)" in warning[0]
    same = prepare(["-hkl", str(tmp_path / "m.pdb"), *G, "-cell", "30", "40", "50", "90", "90", "90"])
    other = prepare(["-hkl", str(tmp_path / "m.pdb"), *G, "-interpolate", *(
        crystal if given == "-cell" else ["-mat", str(tmp_path / "A.mat")])])
    a, b = same.structure_factors, other.structure_factors
    assert b.h_max >= 1.6 * a.h_max and b.l_max >= 1.6 * a.l_max


def test_the_cache_keeps_a_few_fcalc_results_per_model(tmp_path):
    from nbgpu.setup.cache import KEPT_RESULTS
    (tmp_path / "m.txt").write_text("x")
    cache, built = InputCache(), []
    value = cache.read(lambda path, log: object(), str(tmp_path / "m.txt"), log=print)

    def build(source, dmin, log):
        built.append(dmin)
        return dmin
    for dmin in range(KEPT_RESULTS + 3):
        cache.computed(build, value, dmin, log=print)
    assert len(cache._computed) == KEPT_RESULTS
    cache.computed(build, value, KEPT_RESULTS + 2, log=print)        # the last: kept
    cache.computed(build, value, 0, log=print)                       # the first: dropped, built again
    assert built == list(range(KEPT_RESULTS + 3)) + [0]


def test_the_p1_grid_is_the_grid_of_its_text_list():
    """Filled directly, it equals hkl_grid of the exported text: limits, default_F inside them,
    the zero planes, the last of duplicates, the count of reflections."""
    from nbgpu.io.hkl import hkl_grid
    from nbgpu.io.p1 import Reflections, grid, list_text
    rng = np.random.default_rng(3)
    hkl = rng.integers(-4, 5, size=(60, 3))
    hkl[5] = hkl[40]                                                   # a duplicate: the later wins
    F = rng.random(60) * 100
    F[7] = 0.1 + 0.2
    refl = Reflections(hkl=hkl, F=F, cell=CELL, spacegroup="P 1", unique=60)
    for default_F in (0.0, 7.5):
        direct = grid(refl, "x", default_F)
        text = hkl_grid(list_text(hkl, F), "x", default_F, lambda *a: None)
        assert (direct.h_min, direct.h_max, direct.k_min, direct.k_max, direct.l_min, direct.l_max, direct.hkls) == (
            text.h_min, text.h_max, text.k_min, text.k_max, text.l_min, text.l_max, text.hkls)
        assert direct.grid.tobytes() == text.grid.tobytes()
        assert F_at(direct, *hkl[40]) == F[40]


def test_the_stol_table_leaves_out_F000_and_puts_edges_in_the_upper_bin():
    from nbgpu.io.p1 import Reflections
    from nbgpu.io.stol import stol_text
    hkl = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 3]])
    F = np.array([1000.0, 3.0, 4.0, 12.0, 5.0])
    refl = Reflections(hkl=hkl, F=F, cell=(100, 100, 100, 90, 90, 90), spacegroup="P 1", unique=5)
    rows = [tuple(map(float, line.split())) for line in stol_text(refl, "x", 0.01).decode().splitlines()]
    assert rows == [(0.01, math.sqrt((9 + 16 + 144) / 3)), (0.02, 5.0)]        # stol 0.005 and 0.015: edges


def test_sf_column_on_a_model_and_an_all_zero_occupancy_are_warned(tmp_path):
    st = structure()
    for residue in st[0]["A"]:
        for atom in residue:
            atom.occ = 0.0
    write_model(st, tmp_path / "m.pdb")
    done = run_cli(["sf", "m.pdb", "--dmin", "4", "--column", "FP", "--hkl", "y.hkl"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "WARNING: --column FP is ignored: m.pdb is a coordinate model" in done.stdout
    assert "WARNING: every atom of m.pdb has occupancy 0" in done.stdout


def test_a_gzipped_model_is_read_by_its_content(tmp_path):
    import gzip
    from test_io_mtz import make_mtz
    write_model(structure(), tmp_path / "m.pdb")
    (tmp_path / "m.pdb.gz").write_bytes(gzip.compress((tmp_path / "m.pdb").read_bytes()))
    (tmp_path / "packed").write_bytes(gzip.compress((tmp_path / "m.pdb").read_bytes()))   # no .gz in the name
    plain = prepare(["-hkl", str(tmp_path / "m.pdb"), *G]).structure_factors
    for name in ("m.pdb.gz", "packed"):
        packed = prepare(["-hkl", str(tmp_path / name), *G]).structure_factors
        assert packed.grid.tobytes() == plain.grid.tobytes()
    make_mtz(tmp_path / "m.mtz")
    (tmp_path / "m.mtz.gz").write_bytes(gzip.compress((tmp_path / "m.mtz").read_bytes()))
    one_error(run_cli(["-hkl", "m.mtz.gz", "-cell", *map(str, CELL), *G], tmp_path), "-hkl m.mtz.gz", "gzipped MTZ")

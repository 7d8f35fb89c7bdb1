"""Coordinate models (PDB, mmCIF) for -hkl, through gemmi: |Fcalc| by FFT of the model's
electron density (gemmi's DensityCalculatorX: IT92 form factors, each atom's B), with an
optional flat bulk solvent and an overall B, expanded to P1 by io.p1.

The resolution is not the file's but the one the detector reaches, known only once the geometry
is set up; so reading (read_model, by the read step) and computing (fcalc, later, through the
input cache) are two steps.  A model whose numbers would give a wrong Fcalc without saying so
(no volume, a space group the cell does not fit, an unknown element, NaN coordinates, negative
or NaN B or occupancy) is refused naming the file and the atom.
"""
import math
import re

from nbgpu.base.errors import InputError
from nbgpu.base.memory import check_allocation
from nbgpu.base.records import Record
from nbgpu.io.p1 import Reflections, checked_reflections, expand, gemmi_module, grid, has_volume

FLAG = "-hkl"
KINDS = {"pdb": "PDB", "mmcif model": "mmCIF"}      # io.structure_factors' kinds of coordinates: their names
PDB_RECORDS = re.compile(rb"^(ATOM  |HETATM|CRYST1)", re.M)
RATE = 1.5                 # density grid points per half of dmin along each axis (gemmi's default)
BYTES_PER_POINT = 16       # the density (float), its half transform (complex float), FFT scratch
GRID_ROUNDING = 1.2        # at most this much larger per axis, for FFT-friendly sizes
HKL_OPTIONS = {"k_sol": "-k_sol", "B_sol": "-B_sol", "B_add": "-B_add"}


class NoCell(InputError):
    """A model read whole but without a cell: named even where -cell/-mat are missing too,
    since that is why there is no crystal (setup.prepare.check_inputs)."""


class Model(Record):
    """A coordinate model as read: its first model's atoms, the cell and the space group."""
    path: str
    structure: object                # gemmi.Structure
    cell: tuple                      # a, b, c (A), alpha, beta, gamma (degrees)
    spacegroup: object               # gemmi.SpaceGroup
    atoms: int
    kind: str                        # a key of KINDS


def model_kind(data: bytes, is_cif: bool):
    """'pdb' or 'mmcif model' for coordinates (atom records, an _atom_site. loop), else None."""
    if is_cif:
        return "mmcif model" if b"_atom_site." in data else None
    return "pdb" if PDB_RECORDS.search(data) else None


def one_line(exc) -> str:
    return " ".join(str(exc).split())[:200]


def read_model(data: bytes, path, kind, log, flag=FLAG) -> Model:
    """The model, or one InputError naming the flag and the file (corrupt, no atoms, no cell or
    one without volume, unknown or contradicted space group, a bad atom)."""
    gemmi = gemmi_module(flag, path, "a coordinate model")
    name = KINDS[kind]
    text = data.decode("utf-8", "replace")
    try:
        if kind == "pdb":
            structure = gemmi.read_pdb_string(text)
        else:
            structure = gemmi.make_structure_from_block(gemmi.cif.read_string(text)[0])
    except (RuntimeError, ValueError, IndexError) as exc:
        raise InputError(f"{flag} {path}: cannot read it as a {name} model: {one_line(exc)}") from None
    atoms = structure[0].count_atom_sites() if len(structure) else 0
    if atoms == 0:
        raise InputError(f"{flag} {path}: no atoms in the {name} model")
    c = structure.cell
    cell = (c.a, c.b, c.c, c.alpha, c.beta, c.gamma)
    shown = " ".join("%g" % x for x in cell)
    if not c.is_crystal():
        raise NoCell(f"{flag} {path}: the {name} model has no unit cell "
                     f"({'a CRYST1 record' if kind == 'pdb' else '_cell. items'})")
    if not has_volume(cell):
        raise InputError(f"{flag} {path}: the {name} model's cell {shown} has no volume")
    spacegroup = structure.find_spacegroup()
    if spacegroup is None:
        raise InputError(f"{flag} {path}: unknown space group {structure.spacegroup_hm!r} in the {name} model")
    if not c.is_compatible_with_spacegroup(spacegroup):
        raise InputError(f"{flag} {path}: the {name} model's cell {shown} does not fit its space group "
                         f"{spacegroup.hm} ({spacegroup.crystal_system_str()})")
    if not any(cra.atom.occ > 0 for cra in structure[0].all()):
        log(f"WARNING: every atom of {path} has occupancy 0: its Fcalc is 0 (but for any bulk solvent)\n")
    check_atoms(structure, f"{flag} {path}")
    log(f"reading {path} as {name} model: {atoms} atoms, space group {spacegroup.hm}, cell {shown}\n")
    return Model(path=str(path), structure=structure, cell=cell, spacegroup=spacegroup, atoms=atoms, kind=kind)


def check_atoms(structure, where):
    """InputError naming the first atom gemmi would turn into a wrong density without a word:
    an unknown element (gemmi's X, computed as oxygen), NaN coordinates, B or occupancy NaN or
    negative."""
    for cra in structure[0].all():
        atom = cra.atom
        problem = ("an unknown element (no form factor)" if atom.element.name == "X"
                   else "coordinates that are not finite" if not all(map(math.isfinite, atom.pos.tolist()))
                   else f"B {atom.b_iso:g} (must be finite and not negative)" if not atom.b_iso >= 0
                   or math.isinf(atom.b_iso)
                   else f"occupancy {atom.occ:g} (must be finite and not negative)" if not atom.occ >= 0
                   or math.isinf(atom.occ) else None)
        if problem:
            raise InputError(f"{where}: atom {cra} (serial {atom.serial}) has {problem}")


def grid_estimate(model, dmin):
    """(points along each axis, bytes) of the density grid to dmin, an upper estimate made
    before anything is allocated."""
    reciprocal = model.structure.cell.reciprocal()
    axes = tuple(math.ceil(GRID_ROUNDING * 2 * RATE / (dmin * length))
                 for length in (reciprocal.a, reciprocal.b, reciprocal.c))
    return axes, math.prod(axes) * BYTES_PER_POINT


def fcalc(model: Model, dmin, k_sol, b_sol, b_add, log, flag=FLAG, options=HKL_OPTIONS) -> Reflections:
    """|F| = |Fc + k_sol exp(-B_sol s^2/4) Fmask| exp(-B_add s^2/4) to dmin (A), F000 included,
    expanded to P1 (Friedel mates equal: no anomalous scattering).  Fmask is the transform of
    gemmi's solvent mask (Refmac radii), used only when k_sol is not 0.  Values that overflow
    (a large negative B) are refused naming the options (`options`: their names as typed)."""
    gemmi = gemmi_module(flag, model.path, "a coordinate model")
    import numpy as np
    axes, need = grid_estimate(model, dmin)
    check_allocation(need * (2 if k_sol else 1), f"{flag} {model.path}: Fcalc to {dmin:g} A on a grid of up to "
                     f"{axes[0]}x{axes[1]}x{axes[2]} points", "give a coarser -dmin, or a smaller detector")
    structure = model.structure
    density = gemmi.DensityCalculatorX()
    density.d_min, density.rate = dmin, RATE
    density.set_refmac_compatible_blur(structure[0])
    density.set_grid_cell_and_spacegroup(structure)
    density.put_model_density_on_grid(structure[0])
    shape = (density.grid.nu, density.grid.nv, density.grid.nw)
    asu = gemmi.transform_map_to_f_phi(density.grid, half_l=True).prepare_asu_data(
        dmin=dmin, unblur=density.blur, with_000=True)
    F = asu.value_array.astype(np.complex128)
    s2 = asu.make_1_d2_array().astype(np.float64)
    said, used = "", []
    with np.errstate(all="ignore"):              # overflow becomes inf, refused below as one line
        if k_sol:
            mask = gemmi.FloatGrid(*shape)
            mask.set_unit_cell(structure.cell)
            mask.spacegroup = model.spacegroup
            gemmi.SolventMasker(gemmi.AtomicRadiiSet.Refmac).put_mask_on_float_grid(mask, structure[0])
            solvent = gemmi.transform_map_to_f_phi(mask, half_l=True).prepare_asu_data(dmin=dmin, with_000=True)
            if not np.array_equal(solvent.miller_array, asu.miller_array):
                raise InputError(f"{flag} {model.path}: gemmi gave the solvent and the model different "
                                 "reflections (please report it)")
            F += k_sol * np.exp(-b_sol * s2 / 4) * solvent.value_array
            said += f", bulk solvent k_sol {k_sol:g} e/A^3 B_sol {b_sol:g} A^2"
            used += [options["k_sol"], options["B_sol"]]
        if b_add:
            F *= np.exp(-b_add * s2 / 4)
            said += f", overall B {b_add:+g} A^2"
            used.append(options["B_add"])
        amplitudes = np.abs(F)
    blame = f"; check {'/'.join(used)}" if used else ""
    checked_reflections(asu.miller_array, amplitudes, f"{flag} {model.path}", f"its Fcalc to {dmin:g} A", blame)
    unique = len(amplitudes)
    hkl, amplitudes = expand(model.spacegroup, asu.miller_array, amplitudes)
    grid_bytes = 4 * shape[0] * shape[1] * shape[2] + 8 * shape[0] * shape[1] * (shape[2] // 2 + 1)
    log(f"computing Fcalc of {model.path} to {dmin:g} A{said}: {unique} reflections -> {len(amplitudes)} "
        f"in P1 (FFT grid {shape[0]}x{shape[1]}x{shape[2]}, {grid_bytes / 2**20:.1f} MiB)\n")
    return Reflections(hkl=hkl, F=amplitudes, cell=model.cell, spacegroup=model.spacegroup.hm, unique=unique)


def fcalc_grid(model: Model, dmin, k_sol, b_sol, b_add, default_F, log):
    """The model's Fcalc as -hkl's structure-factor grid (what the input cache keeps)."""
    return grid(fcalc(model, dmin, k_sol, b_sol, b_add, log), model.path, default_F)

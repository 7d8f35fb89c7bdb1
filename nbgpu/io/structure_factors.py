"""The one reader of a structure-factor source, for -hkl (setup.inputs) and `nbgpu sf`
(run.export) alike: the file's kind from its content, and its reading into what that kind
gives (io.model.Model, io.p1.Reflections, or a TextList).

A file is recognised by its content, never its name: gzip's magic bytes first (decompressed,
then recognised the same way; an MTZ is read by gemmi from its path, so a gzipped MTZ is
refused), then an MTZ starts with b"MTZ ", an SF-mmCIF is a CIF with `_refln.` loops, a
coordinate model (PDB, mmCIF) is io.model's; anything else is nanoBragg's `h k l F` text list.
"""
import gzip
import zlib

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.io.files import read_input
from nbgpu.io.hkl import hkl_grid
from nbgpu.io.model import KINDS as MODEL_KINDS, Model, model_kind, read_model
from nbgpu.io.mtz import COLUMN_FLAG, FLAG, read_reflections
from nbgpu.io.p1 import Reflections, grid

GZIP = b"\x1f\x8b"


class TextList(Record):
    """An `h k l F` text list, as its bytes (io.hkl.hkl_grid reads them)."""
    data: bytes


def kind_of(data: bytes) -> str:
    """'mtz', 'sf-mmcif' (structure factors), a key of io.model.KINDS (coordinates) or 'text'."""
    if data.startswith(b"MTZ "):
        return "mtz"
    is_cif = data.lstrip().startswith((b"data_", b"#")) or b"\ndata_" in data
    if b"_refln." in data and is_cif:
        return "sf-mmcif"
    return model_kind(data, is_cif) or "text"


def unpacked(data: bytes, path, flag) -> bytes:
    """The data, decompressed where it is gzip's."""
    if not data.startswith(GZIP):
        return data
    try:
        data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{flag} {path}: cannot decompress it (gzip): {exc}") from None
    if data.startswith(b"MTZ "):
        raise InputError(f"{flag} {path}: a gzipped MTZ file: decompress it first (gunzip)")
    return data


def read_source(path, column, log, flag=FLAG, column_flag=COLUMN_FLAG):
    """The file as its kind gives it: a Model (its Fcalc waits for a resolution), the
    Reflections of an MTZ or SF-mmCIF (the column picked, expanded to P1), or a TextList.  A
    column named for a model or a text list is ignored with a warning."""
    data = unpacked(read_input(path, flag), path, flag)      # once: a FIFO or device can be read only once
    kind = kind_of(data)
    if kind in ("text", *MODEL_KINDS) and column is not None:
        what = "an h k l F text list" if kind == "text" else "a coordinate model"
        log(f"WARNING: {column_flag} {column} is ignored: {path} is {what}\n")
    if kind == "text":
        return TextList(data=data)
    if kind in MODEL_KINDS:
        return read_model(data, path, kind, log, flag)
    return read_reflections(data, path, kind, column, log, flag, column_flag)


def read_structure_factors(path, default_F, column, log, exact=False):
    """-hkl FILE: the structure-factor grid (a text list as nanoBragg reads it, an MTZ's or
    SF-mmCIF's P1 list by io.p1), or the Model whose Fcalc setup.inputs computes later."""
    source = read_source(path, column, log)
    if isinstance(source, TextList):
        return hkl_grid(source.data, path, default_F, log, FLAG, exact)
    if isinstance(source, Reflections):
        return grid(source, path, default_F)
    return source


def is_model(value) -> bool:
    """Whether -hkl gave a coordinate model rather than structure factors."""
    return isinstance(value, Model)


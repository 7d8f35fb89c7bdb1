"""nanoBragg's file formats, byte for byte: outputs (SMV, raw float, PGM, Fdump.bin) and inputs
(HKL text, Fdump.bin, the -mat matrix, the generic text reader, SMV headers for -img/-mask), one module each;
nbgpu's CBF (cbf.py) and NeXus (nexus.py) outputs, imported where they are written.

Everything nanoBragg prints while reading or writing goes through a `log` callable so that the
caller controls where stdout text ends up.  Problems the user can fix raise InputError with one
line that names the flag and the file.
"""
from nbgpu.io.fdump import fdump_parts, read_fdump, write_fdump
from nbgpu.io.files import save_file, save_files
from nbgpu.io.hkl import StructureFactors, read_hkl
from nbgpu.io.matrix import read_matrix
from nbgpu.io.images import float_image_parts, pgm_bytes_header, pgm_parts
from nbgpu.io.smv import SmvFile, SmvGeometry, read_smv, smv_header_bytes, smv_parts
from nbgpu.io.text import read_text_file

__all__ = ["StructureFactors", "SmvFile", "SmvGeometry", "save_file", "save_files", "fdump_parts", "float_image_parts",
           "pgm_bytes_header", "pgm_parts", "read_fdump", "read_hkl", "read_matrix", "read_smv", "read_text_file",
           "smv_header_bytes", "smv_parts", "write_fdump"]

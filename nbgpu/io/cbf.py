"""CBF images: a miniCBF (a PILATUS_1.2 text header) where that header describes the detector
exactly, else a full imgCIF file whose axis categories give the geometry; then the pixels as
32-bit integers, byte-offset compressed (fabio's compressor).

A Pilatus header has no vectors.  Its readers (dxtbx's miniCBF formats, XDS's templates) place
the detector face-on to the beam at Detector_distance with Beam_xy where the beam meets it, fast
x slow pointing away from the sample, the rotation axis along the fast axis, and Polarization
the fraction of the intensity whose E vector lies in the plane of the rotation axis and the beam.
Any other detector (two-theta, tilts, -adxv's mirror image, -dials' vertical spindle, custom
vectors) gets the full imgCIF geometry, which CBFlib (and dxtbx through it) reads.

Polarization is written as the fraction p = (1 + K) / 2 in both kinds: imgCIF's
_diffrn_radiation.polarizn_source_ratio too, although the dictionary words it as
(Ip - In) / (Ip + In) (= K), because its readers (dxtbx's imgCIF beam) and writers (Diamond's
headers, 0.990) use it as the fraction.  A K outside [-1, 1] is no physical beam: refused.

The container is written here rather than by fabio's CbfImage, whose first line is longer than
CBF's 80 columns (CBFlib warns on every read) and whose data block is named after the file it
is written to (here a temporary name).
"""
import math

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.vectors import beam_hit, cross, dot, unitize

PADDING = 4095                       # bytes of zeros after the binary data, as Pilatus writes them
STARTER = b"\x0c\x1a\x04\xd5"        # the binary section's start marker
SAME = 1e-9                          # unit vectors this close are the same direction (a header's rule)
BLOCK = 75                           # the longest data block name CBFlib reads (CBF_FORMAT beyond)


class CbfHeader(Record):
    """What a CBF file says of the run: SI units, angles in degrees, vectors in nanoBragg's frame."""
    fpixels: int
    spixels: int
    pixel_size: float
    wavelength: float                # m
    exposure: float                  # s
    start_angle: float               # phi at the start of the frame
    angle_increment: float           # its oscillation
    sensor_thickness: float          # m (0: not given)
    flux: float                      # photons/s
    kahn_factor: object              # nanoBragg's polarization factor K; None: -nopolar (no correction)
    origin: tuple                    # pix0: the corner of pixel (0, 0) (m)
    fast_axis: tuple                 # unit fdet and sdet as rendered
    slow_axis: tuple
    beam: tuple                      # unit, from the source through the sample
    spindle: tuple                   # unit rotation axis (right-handed)
    polar: tuple                     # the polarization (E) vector


class CbfDescription(Record):
    """How the file describes one run, decided once per setup (describe): which header, and the
    values both kinds are built from."""
    header: CbfHeader
    pilatus: bool                    # a miniCBF (pilatus_fits), else full imgCIF
    hit: object                      # beam_hit's (distance, fast, slow pixels), or None: the beam misses
    frame: object                    # imgCIF's laboratory (X, Y, Z) (imgcif_frame); None for a miniCBF

    def kind(self) -> str:
        """For the log line."""
        return "miniCBF" if self.pilatus else "CBF (imgCIF geometry)"


def describe(h: CbfHeader, flag: str) -> CbfDescription:
    """The one decision of how a CBF describes this run; InputError (naming `flag`) when no CBF
    can: a polarization that is no beam's, or no imgCIF laboratory frame."""
    if h.kahn_factor is not None and not -1.0 <= h.kahn_factor <= 1.0:
        raise InputError(f"{flag}: -polar {h.kahn_factor:g} is no beam's polarization (the fraction "
                         f"(1 + K)/2 = {polarization_fraction(h.kahn_factor):g} is outside 0..1), which a CBF "
                         "cannot state: give -polar from -1 to 1, -nopolar, or leave out this file")
    hit = beam_hit(h.origin, h.fast_axis, h.slow_axis, h.beam, h.pixel_size)
    if pilatus_fits(h, hit):
        return CbfDescription(header=h, pilatus=True, hit=hit, frame=None)
    return CbfDescription(header=h, pilatus=False, hit=hit, frame=imgcif_frame(h, flag))


def same_direction(a, b) -> bool:
    return max(abs(x - y) for x, y in zip(a, b)) <= SAME


def polarization_fraction(kahn: float) -> float:
    """The fraction of the intensity with its E vector along nanoBragg's polar vector.  nanoBragg's
    factor is (1 + cos^2 2theta - K cos 2psi sin^2 2theta) / 2, psi from the E vector; a beam with
    that fraction p gives the same with K = 2p - 1."""
    return (1.0 + kahn) / 2.0


def e_vector(h: CbfHeader):
    """The E vector's direction: the polar vector's part normal to the beam (None if it has none)."""
    along = dot(h.polar, h.beam)
    e, length = unitize([p - along * b for p, b in zip(h.polar, h.beam)])
    return e if length > SAME else None


def pilatus_fits(h: CbfHeader, hit) -> bool:
    """Whether a Pilatus header (see the module's docstring) describes this run exactly: fast and
    slow orthogonal, fast x slow along the beam, the beam meeting the detector in front of the
    sample (`hit`: beam_hit's), the spindle along fast, and the E vector along +-fast when the
    beam is polarized."""
    normal = cross(h.fast_axis, h.slow_axis)
    if abs(dot(h.fast_axis, h.slow_axis)) > SAME or not same_direction(normal, h.beam):
        return False
    if hit is None:
        return False
    if not same_direction(h.spindle, h.fast_axis):
        return False
    if h.kahn_factor is None or h.kahn_factor == 0.0:
        return True
    e = e_vector(h)
    return e is not None and abs(abs(dot(e, h.fast_axis)) - 1.0) <= SAME


def header_lines(d: CbfDescription) -> list[str]:
    """The Pilatus header lines, each under 80 columns, in the order Pilatus writes them."""
    if not d.pilatus:
        raise ValueError("header_lines: a Pilatus header does not describe this detector")
    h, (distance, beam_x, beam_y) = d.header, d.hit
    lines = ["# Detector: nbgpu simulated detector (nanoBragg geometry), S/N 0-0000",
             f"# Pixel_size {h.pixel_size:.6g} m x {h.pixel_size:.6g} m"]
    if h.sensor_thickness > 0:
        lines.append(f"# Silicon sensor, thickness {h.sensor_thickness:.6f} m")
    lines += [f"# Exposure_time {h.exposure:.7f} s",
              f"# Exposure_period {h.exposure:.7f} s",
              "# Count_cutoff 65535 counts",
              f"# Wavelength {h.wavelength * 1e10:.6f} A",
              f"# Detector_distance {distance:.6f} m",
              f"# Beam_xy ({beam_x:.2f}, {beam_y:.2f}) pixels",
              f"# Flux {h.flux:.6g}",
              f"# Start_angle {h.start_angle:.4f} deg.",
              f"# Angle_increment {h.angle_increment:.4f} deg.",
              "# Detector_2theta 0.0000 deg."]          # face-on, or it would not be a miniCBF
    if h.kahn_factor is not None:                     # -nopolar: no fraction describes the image
        lines.append(f"# Polarization {polarization_fraction(h.kahn_factor):.4f}")
    lines += ["# Alpha 0.0000 deg.",
              "# Kappa 0.0000 deg.",
              f"# Phi {h.start_angle:.4f} deg.",
              f"# Phi_increment {h.angle_increment:.4f} deg.",
              "# Oscillation_axis PHI",
              "# N_oscillations 1"]
    return lines


def imgcif_frame(h: CbfHeader, flag: str) -> tuple:
    """(X, Y, Z) of imgCIF's laboratory frame as unit vectors of nanoBragg's: X along the rotation
    axis, Z the part of the direction toward the source normal to it, Y = Z x X."""
    x = h.spindle
    toward_source = [-b for b in h.beam]
    along = dot(toward_source, x)
    z, length = unitize([s - along * a for s, a in zip(toward_source, x)])
    if length <= 1e-6:
        raise InputError(f"{flag}: the rotation axis runs along the beam, which leaves imgCIF's "
                         "laboratory frame undefined: no CBF can describe this run")
    return tuple(x), tuple(cross(z, x)), tuple(z)


def axis_row(names: str, vector: str, offset: str) -> list[str]:
    """One row of the axis loop on three lines, each under CBF's 80 columns."""
    return [names, f"  {vector}", f"  {offset}"]


def imgcif_lines(d: CbfDescription) -> list[str]:
    """The full imgCIF categories of the run's geometry (mm, degrees, angstrom): a goniometer of
    one axis (PHI), the beam (SOURCE), and the detector as DETECTOR_Z (along the beam, set to the
    distance where the beam meets the detector plane) carrying the pixel axes ELEMENT_X and
    ELEMENT_Y along fdet and sdet, ELEMENT_X offset to the corner of pixel (0, 0) so that the
    centre of pixel (i, j) is pix0 + (i + 1/2) fast + (j + 1/2) slow pixels, as rendered."""
    h = d.header
    lab = lambda v: [dot(axis, v) for axis in d.frame]
    vector = lambda v: " ".join(f"{c + 0.0:.12g}" for c in lab(v))      # + 0.0: no "-0"
    distance = d.hit[0] if d.hit is not None else 0.0
    corner = [1000.0 * (o - distance * b) for o, b in zip(h.origin, h.beam)]
    mm = 1000.0 * h.pixel_size
    lines = ["_diffrn.id DIFFRN", "",
             "_diffrn_radiation.diffrn_id DIFFRN",
             "_diffrn_radiation.wavelength_id WAVELENGTH1",
             "_diffrn_radiation.probe x-ray"]
    if h.kahn_factor is not None:
        e = e_vector(h)
        normal = lab(cross(h.beam, e)) if e is not None else (0.0, 1.0, 0.0)
        # readers' normal is (sin norm, cos norm, 0) in the lab frame: the angle from +Y toward +X
        angle = math.degrees(math.atan2(normal[0], normal[1])) % 180.0      # a plane's normal: either sign
        lines += [f"_diffrn_radiation.polarizn_source_ratio {polarization_fraction(h.kahn_factor):.6g}",
                  f"_diffrn_radiation.polarizn_source_norm {angle:.6f}"]
    lines += ["",
              "_diffrn_radiation_wavelength.id WAVELENGTH1",
              f"_diffrn_radiation_wavelength.wavelength {h.wavelength * 1e10:.8g}",
              "_diffrn_radiation_wavelength.wt 1.0", "",
              "_diffrn_source.diffrn_id DIFFRN",
              "_diffrn_source.source 'nbgpu simulation (nanoBragg geometry)'", "",
              "_diffrn_detector.diffrn_id DIFFRN",
              "_diffrn_detector.id DETECTOR",
              "_diffrn_detector.type 'nbgpu simulated pixel detector'"]
    if h.sensor_thickness > 0:
        lines.append(f"_diffrn_detector.details 'Si sensor, thickness {h.sensor_thickness:.6g} m'")
    lines += ["_diffrn_detector.number_of_axes 1", "",
              "_diffrn_detector_axis.detector_id DETECTOR",
              "_diffrn_detector_axis.axis_id DETECTOR_Z", "",
              "_diffrn_detector_element.id ELEMENT1",
              "_diffrn_detector_element.detector_id DETECTOR", "",
              "_diffrn_measurement.diffrn_id DIFFRN",
              "_diffrn_measurement.id GONIOMETER",
              "_diffrn_measurement.method rotation",
              "_diffrn_measurement.number_of_axes 1", "",
              "_diffrn_measurement_axis.measurement_id GONIOMETER",
              "_diffrn_measurement_axis.axis_id PHI", "",
              "_diffrn_scan.id SCAN1",
              "_diffrn_scan.frame_id_start FRAME1",
              "_diffrn_scan.frame_id_end FRAME1",
              "_diffrn_scan.frames 1", "",
              "loop_", "_diffrn_scan_axis.scan_id", "_diffrn_scan_axis.axis_id",
              "_diffrn_scan_axis.angle_start", "_diffrn_scan_axis.angle_range",
              "_diffrn_scan_axis.angle_increment", "_diffrn_scan_axis.displacement_start",
              "_diffrn_scan_axis.displacement_range", "_diffrn_scan_axis.displacement_increment",
              f"SCAN1 PHI {h.start_angle:.6f} {h.angle_increment:.6f} {h.angle_increment:.6f} 0 0 0",
              f"SCAN1 DETECTOR_Z 0 0 0 {1000.0 * distance:.9g} 0 0", "",
              "_diffrn_scan_frame.frame_id FRAME1",
              "_diffrn_scan_frame.scan_id SCAN1",
              "_diffrn_scan_frame.frame_number 1",
              f"_diffrn_scan_frame.integration_time {h.exposure:.7g}", "",
              "loop_", "_diffrn_scan_frame_axis.frame_id", "_diffrn_scan_frame_axis.axis_id",
              "_diffrn_scan_frame_axis.angle", "_diffrn_scan_frame_axis.displacement",
              f"FRAME1 PHI {h.start_angle:.6f} 0",
              f"FRAME1 DETECTOR_Z 0 {1000.0 * distance:.9g}", "",
              "loop_", "_axis.id", "_axis.type", "_axis.equipment", "_axis.depends_on",
              "_axis.vector[1]", "_axis.vector[2]", "_axis.vector[3]",
              "_axis.offset[1]", "_axis.offset[2]", "_axis.offset[3]",
              *axis_row("SOURCE general source .", vector([-b for b in h.beam]), "0 0 0"),
              *axis_row("PHI rotation goniometer .", "1 0 0", "0 0 0"),
              *axis_row("DETECTOR_Z translation detector .", vector(h.beam), "0 0 0"),
              *axis_row("ELEMENT_X translation detector DETECTOR_Z", vector(h.fast_axis), vector(corner)),
              *axis_row("ELEMENT_Y translation detector ELEMENT_X", vector(h.slow_axis), "0 0 0"), "",
              "loop_", "_array_structure_list_axis.axis_set_id", "_array_structure_list_axis.axis_id",
              "_array_structure_list_axis.displacement", "_array_structure_list_axis.displacement_increment",
              f"ELEMENT_X ELEMENT_X {mm / 2:.12g} {mm:.12g}",
              f"ELEMENT_Y ELEMENT_Y {mm / 2:.12g} {mm:.12g}", "",
              "loop_", "_array_structure_list.array_id", "_array_structure_list.index",
              "_array_structure_list.dimension", "_array_structure_list.precedence",
              "_array_structure_list.direction", "_array_structure_list.axis_set_id",
              f"ARRAY1 1 {h.fpixels} 1 increasing ELEMENT_X",
              f"ARRAY1 2 {h.spixels} 2 increasing ELEMENT_Y", "",
              "loop_", "_array_element_size.array_id", "_array_element_size.index", "_array_element_size.size",
              f"ARRAY1 1 {h.pixel_size:.9g}", f"ARRAY1 2 {h.pixel_size:.9g}", "",
              "_array_intensities.array_id ARRAY1",
              "_array_intensities.binary_id 1",
              "_array_intensities.linearity linear",
              "_array_intensities.gain 1.0",
              "_array_intensities.overload 65535",
              "_array_intensities.undefined_value -1", "",
              "_array_structure.id ARRAY1",
              "_array_structure.encoding_type 'signed 32-bit integer'",
              "_array_structure.compression_type byte_offset",
              "_array_structure.byte_order little_endian", "",
              "_diffrn_data_frame.id FRAME1",
              "_diffrn_data_frame.detector_element_id ELEMENT1",
              "_diffrn_data_frame.array_id ARRAY1",
              "_diffrn_data_frame.binary_id 1", ""]
    return lines


def compress(pixels):
    """Byte-offset compression of int32 pixels (fabio, a dependency imported only here)."""
    try:
        from fabio.compression import compByteOffset
    except ImportError:
        raise InputError("CBF output needs fabio: pip install fabio") from None
    return bytes(compByteOffset(pixels))


def block_name(name: str) -> str:
    """The data block's name from the file's: CIF's characters only, and at most BLOCK
    characters (CBFlib refuses a longer one), the end of a long name kept (its numbering)."""
    block = "".join(c if c.isalnum() or c in "_-." else "_" for c in name) or "image"
    return block if len(block) <= BLOCK else block[-BLOCK:]


def cbf_parts(name: str, d: CbfDescription, pixels) -> list:
    """A CBF file of the (slow, fast) integer pixels, as chunks for save_files: a miniCBF when a
    Pilatus header fits, else full imgCIF (`d`: describe's)."""
    import base64        # here, not at import: a plain render writes no CBF
    import hashlib

    import numpy as np
    data = np.ascontiguousarray(pixels, dtype=np.int32)
    slow, fast = data.shape
    binary = compress(data)
    digest = base64.b64encode(hashlib.md5(binary).digest()).decode("ascii")
    if d.pilatus:
        description = ["_array_data.header_convention \"PILATUS_1.2\"", "_array_data.header_contents", ";",
                       *header_lines(d), ";", ""]
    else:
        description = [*imgcif_lines(d), "_array_data.array_id ARRAY1", "_array_data.binary_id 1"]
    text = "\r\n".join(
        ["###CBF: VERSION 1.5, nbgpu (nanoBragg-compatible simulator)", "", f"data_{block_name(name)}", ""]
        + description
        + ["_array_data.data", ";", "--CIF-BINARY-FORMAT-SECTION--",
           "Content-Type: application/octet-stream;", '     conversions="x-CBF_BYTE_OFFSET"',
           "Content-Transfer-Encoding: BINARY", f"X-Binary-Size: {len(binary)}", "X-Binary-ID: 1",
           'X-Binary-Element-Type: "signed 32-bit integer"', "X-Binary-Element-Byte-Order: LITTLE_ENDIAN",
           f"Content-MD5: {digest}", f"X-Binary-Number-of-Elements: {data.size}",
           f"X-Binary-Size-Fastest-Dimension: {fast}", f"X-Binary-Size-Second-Dimension: {slow}",
           f"X-Binary-Size-Padding: {PADDING}", "", ""]).encode("ascii")
    tail = b"\r\n--CIF-BINARY-FORMAT-SECTION----\r\n;\r\n\r\n"
    return [text, STARTER, binary, bytes(PADDING), tail]

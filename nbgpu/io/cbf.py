"""miniCBF images as Pilatus detectors write them: a PILATUS_1.2 text header with the geometry,
then the pixels as 32-bit integers, byte-offset compressed (fabio's compressor).

The container is written here rather than by fabio's CbfImage, whose first line is longer than
CBF's 80 columns (CBFlib warns on every read) and whose data block is named after the file it
is written to (here a temporary name).
"""
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record

PADDING = 4095                       # bytes of zeros after the binary data, as Pilatus writes them
STARTER = b"\x0c\x1a\x04\xd5"        # the binary section's start marker


class CbfHeader(Record):
    """What the header says (SI units, angles in degrees)."""
    pixel_size: float
    distance: float                  # sample to detector plane along the beam (m)
    wavelength: float                # m
    beam_x: float                    # where the direct beam hits, in pixels along fast and slow
    beam_y: float
    exposure: float                  # s
    start_angle: float               # phi at the start of the frame
    angle_increment: float           # its oscillation
    two_theta: float
    sensor_thickness: float          # m (0: not given)
    flux: float                      # photons/s
    polarization: float              # nanoBragg's Kahn factor


def header_lines(h: CbfHeader) -> list[str]:
    """The Pilatus header lines, each under 80 columns, in the order Pilatus writes them."""
    lines = ["# Detector: nbgpu simulated detector (nanoBragg geometry), S/N 0-0000",
             f"# Pixel_size {h.pixel_size:.6g} m x {h.pixel_size:.6g} m"]
    if h.sensor_thickness > 0:
        lines.append(f"# Silicon sensor, thickness {h.sensor_thickness:.6f} m")
    lines += [f"# Exposure_time {h.exposure:.7f} s",
              f"# Exposure_period {h.exposure:.7f} s",
              "# Count_cutoff 65535 counts",
              f"# Wavelength {h.wavelength * 1e10:.6f} A",
              f"# Detector_distance {h.distance:.6f} m",
              f"# Beam_xy ({h.beam_x:.2f}, {h.beam_y:.2f}) pixels",
              f"# Flux {h.flux:.6g}",
              f"# Start_angle {h.start_angle:.4f} deg.",
              f"# Angle_increment {h.angle_increment:.4f} deg.",
              f"# Detector_2theta {h.two_theta:.4f} deg.",
              f"# Polarization {h.polarization:.3f}",
              "# Alpha 0.0000 deg.",
              "# Kappa 0.0000 deg.",
              f"# Phi {h.start_angle:.4f} deg.",
              f"# Phi_increment {h.angle_increment:.4f} deg.",
              "# Oscillation_axis PHI",
              "# N_oscillations 1"]
    return lines


def compress(pixels):
    """Byte-offset compression of int32 pixels (fabio, a dependency imported only here)."""
    try:
        from fabio.compression import compByteOffset
    except ImportError:
        raise InputError("CBF output needs fabio: pip install fabio") from None
    return bytes(compByteOffset(pixels))


def cbf_parts(name: str, h: CbfHeader, pixels) -> list:
    """A miniCBF file of the (slow, fast) integer pixels, as chunks for save_files."""
    import base64        # here, not at import: a plain render writes no CBF
    import hashlib

    import numpy as np
    data = np.ascontiguousarray(pixels, dtype=np.int32)
    slow, fast = data.shape
    binary = compress(data)
    digest = base64.b64encode(hashlib.md5(binary).digest()).decode("ascii")
    block = "".join(c if c.isalnum() or c in "_-." else "_" for c in name) or "image"
    text = "\r\n".join(
        ["###CBF: VERSION 1.5, nbgpu (nanoBragg-compatible simulator)", "", f"data_{block}", "",
         "_array_data.header_convention \"PILATUS_1.2\"", "_array_data.header_contents", ";"]
        + header_lines(h)
        + [";", "", "_array_data.data", ";", "--CIF-BINARY-FORMAT-SECTION--",
           "Content-Type: application/octet-stream;", '     conversions="x-CBF_BYTE_OFFSET"',
           "Content-Transfer-Encoding: BINARY", f"X-Binary-Size: {len(binary)}", "X-Binary-ID: 1",
           'X-Binary-Element-Type: "signed 32-bit integer"', "X-Binary-Element-Byte-Order: LITTLE_ENDIAN",
           f"Content-MD5: {digest}", f"X-Binary-Number-of-Elements: {data.size}",
           f"X-Binary-Size-Fastest-Dimension: {fast}", f"X-Binary-Size-Second-Dimension: {slow}",
           f"X-Binary-Size-Padding: {PADDING}", "", ""]).encode("ascii")
    tail = b"\r\n--CIF-BINARY-FORMAT-SECTION----\r\n;\r\n\r\n"
    return [text, STARTER, binary, bytes(PADDING), tail]

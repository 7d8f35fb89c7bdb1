"""nanoBragg's raw float image and its PGM picture."""
from nbgpu.base.cnumbers import cfmt_g
from nbgpu.io.files import checked_pixels


def float_image_parts(image_float32) -> list:
    """nanoBragg's float image: raw native float32, no header."""
    return [checked_pixels(image_float32, "float32", None, "float image")]


def pgm_bytes_header(fpixels, spixels, pgm_scale) -> bytes:
    """Binary PGM header with nanoBragg's scale comment."""
    return (f"P5\n{int(fpixels)} {int(spixels)}\n"
            f"# pixels scaled by {cfmt_g(pgm_scale)}\n255\n").encode("ascii")


def pgm_parts(fpixels, spixels, pgm_scale, pixels_uint8) -> list:
    """PGM image: header then one byte per pixel, fast index fastest."""
    pixels = checked_pixels(pixels_uint8, "uint8", int(fpixels) * int(spixels), "PGM pixels")
    return [pgm_bytes_header(fpixels, spixels, pgm_scale), pixels]

"""Exhaustive proof of the bounds noisify's draw loop decides with (csrc/nb_draw_bounds.h).

nb_noise_photons ends poidev's product loop by comparing each product with bounds on
g = (float)exp(-xm) instead of g itself, and computes g only when a product falls between them.
Its counts are noisify's if, with this machine's C library:
  1. for every float rsq in (0, 1): fac_low(rsq) <= (float)sqrt(-2 log(rsq)/rsq) <= fac_high(rsq);
  2. for every float x in [0, 12): exp_low(x) <= (float)exp(-x) <= exp_high(x), and
     (float)exp(-x) is non-increasing (each float's value is no less than the next float's);
the rest (float and double products, sums and roundings are monotone) is IEEE arithmetic.
This checks 1 and 2 on every float of both ranges (about 2.2e9 evaluations, a minute on two
cores); tests/test_rng.py checks a sample of them.  Usage: python bench/draws_proof.py
"""
import time

from nbgpu._nbcore import lib

CLAIMS = [("gaussdev factor bounds, every float rsq in (0, 1)", 0, 0x3F800000, 0),
          ("exp(-x) bounds and monotony, every float x in [0, 12)", 0, 0x41400000, 1)]


def main():
    failed = 0
    for what, first, last, which in CLAIMS:
        start = time.perf_counter()
        failures = lib.nb_draw_bounds_check(first, last, 1, which)
        print(f"{what}: {last - first} bit patterns, {failures} failures "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
        failed += failures
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()

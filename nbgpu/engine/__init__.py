"""Engines: the problem struct they all render, the C and CUDA engines, their selection, and the
statistics and conversions of a rendered image."""

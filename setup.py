"""Builds the C engine through cffi; everything else is in pyproject.toml."""
from setuptools import setup

setup(cffi_modules=["nbgpu/_build.py:ffibuilder"])

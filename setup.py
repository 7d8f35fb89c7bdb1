"""Builds the C engine through cffi (csrc/nbcore_build.py); everything else is in pyproject.toml."""
from setuptools import setup

setup(cffi_modules=["csrc/nbcore_build.py:ffibuilder"])

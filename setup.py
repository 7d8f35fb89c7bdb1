"""Builds the C engine through cffi and ships the physics headers beside the CUDA kernels;
everything else is in pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# NVRTC compiles nbgpu/kernels/*.cu at run time against the very headers the C engine uses
SHARED_HEADERS = ["csrc/nb_problem.h", "csrc/nb_physics.h", "csrc/nb_tile.h"]


class BuildPyWithHeaders(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib, "nbgpu", "kernels")
        target.mkdir(parents=True, exist_ok=True)
        for header in SHARED_HEADERS:
            shutil.copy(header, target)


setup(cffi_modules=["nbgpu/_build.py:ffibuilder"], cmdclass={"build_py": BuildPyWithHeaders})

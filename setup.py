# setuptools cannot read `cffi_modules` or C extensions from pyproject.toml; all other metadata
# lives there.  rawmmap._native is the CFFI binding of the libc calls; rawmmap._core is the
# plain CPython C of the fault guard and the objects that own memory (src/rawmmap/_csrc/core.c).
from setuptools import Extension, setup

setup(
    cffi_modules=["src/rawmmap/_build.py:ffi"],
    ext_modules=[
        Extension(
            "rawmmap._core",
            ["src/rawmmap/_csrc/core.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                                "-Wno-unused-parameter", "-Wno-cast-function-type"],
        )
    ],
)

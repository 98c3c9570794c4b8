# setuptools cannot read `cffi_modules` from pyproject.toml; all other metadata lives there.
from setuptools import setup

setup(cffi_modules=["src/rawmmap/_build.py:ffi"])

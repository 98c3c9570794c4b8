# The compiled CFFI module (built from _build.py); the only place `Any` is allowed.
from typing import Any

ffi: Any
lib: Any

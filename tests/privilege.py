"""Giving up root in a forked child, yet still reading one's own /proc/self files.

setuid() makes a process non-dumpable, and the kernel then hands its
/proc/PID files to root: a child that became nobody could not even read its
own pagemap. ``prctl(PR_SET_DUMPABLE, 1)`` undoes that; the constant comes
from <sys/prctl.h> through the C compiler, like every constant of the project.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import subprocess

from .conftest import compile_c

NOBODY = 65534


def pr_set_dumpable(tmp_path: pathlib.Path) -> int:
    """PR_SET_DUMPABLE as <sys/prctl.h> defines it."""
    prog = compile_c(
        "#include <stdio.h>\n#include <sys/prctl.h>\n"
        'int main(void) { printf("%d\\n", PR_SET_DUMPABLE); return 0; }\n',
        tmp_path,
    )
    return int(subprocess.run([str(prog)], capture_output=True, text=True, check=True).stdout)


def become_nobody(dumpable_option: int) -> None:
    """In a forked child of root: drop to nobody, and stay able to read /proc/self."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    if ctypes.CDLL(None, use_errno=True).prctl(dumpable_option, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 1)")

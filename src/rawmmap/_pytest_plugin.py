"""rawmmap's pytest plugin, registered through the ``pytest11`` entry point.

Importing it has no side effects beyond importing rawmmap; fixtures are
defined here and available to any test suite once rawmmap is installed.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def page_size() -> int:
    """The machine's page size (``sysconf(_SC_PAGESIZE)``)."""
    from . import PAGESIZE

    return PAGESIZE

"""``python -m rawmmap``: the same as the ``rawmmap`` command."""

from ._cli import main

raise SystemExit(main())

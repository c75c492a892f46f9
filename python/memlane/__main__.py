"""``python -m memlane``: the ``memlane`` command line (see memlane.server.cli)."""

from memlane.server.cli import main

raise SystemExit(main())

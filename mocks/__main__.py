"""`python -m mocks`: the mocks' command line (see `mocks.cli`)."""

from mocks.cli import main

raise SystemExit(main())

"""``python -m orchestrator`` is ``bgassets``."""

import sys

from orchestrator.cli.main import main

sys.exit(main())

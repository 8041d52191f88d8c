"""``python -m streams worker`` / ``python -m streams topics create``: the bridge's CLI."""

import sys

from common.cli import main

sys.exit(main())

"""``python -m bot`` is ``mailflow``."""

import sys

from bot.cli import main

sys.exit(main())

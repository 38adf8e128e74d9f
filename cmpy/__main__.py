"""``python -m cmpy``: the same as the ``cmpy`` command."""

import sys

from ._cli import main

sys.exit(main())

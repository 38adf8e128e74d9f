"""``utils`` as MLCFlow's scripts import it (``from utils import is_true``): cmpy's.

In MLCFlow this is the repository's own ``automation/utils.py``; here it
re-exports :mod:`cmpy.compat._utils`. The folder holding it is on ``sys.path``
only inside :func:`cmpy.compat._utils.shim_imports`.
"""

from cmpy.compat._utils import *  # noqa: F403
from cmpy.compat._utils import __all__ as __all__

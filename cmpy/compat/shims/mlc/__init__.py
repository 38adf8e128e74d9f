"""``mlc`` as MLCFlow's scripts import it (mlcflow is not installed): ``utils`` and ``access``.

``mlc.access(...)`` is the action of the script being run, as
:func:`cmpy.compat._utils.shim_imports` was told; ``mlc.utils`` re-exports
:mod:`cmpy.compat._utils`.
"""

from cmpy.compat._utils import logger as logger
from cmpy.compat._utils import module_access as access

from . import utils as utils

__all__ = ["access", "logger", "utils"]

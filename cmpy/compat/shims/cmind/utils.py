"""``cmind.utils`` as CM's scripts import it: :mod:`cmpy.compat._utils` re-exported."""

from cmpy.compat._utils import *  # noqa: F403
from cmpy.compat._utils import __all__ as __all__

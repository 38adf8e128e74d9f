"""CM and MLCFlow script folders, run unmodified: the registry's second loader.

:mod:`._loader` reads repositories and script folders into recipes,
:mod:`._meta` their meta files, :mod:`._runner` runs one script CM's way
(with :mod:`._deps` for its dep lists and :mod:`._env` for CM's env and
variation rules), :mod:`._automation` and :mod:`._utils` are what a
``customize.py`` is handed and imports.
"""

__all__: list[str] = []

"""cmpy's built-in recipes, one module per family.

This package is registered under the ``cmpy.recipes`` entry-point group, as
any third-party recipe package would be. Modules here import nothing heavy at
import time: the registry indexes them once and imports a module only to run
one of its recipes.
"""

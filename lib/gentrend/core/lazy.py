"""A package's public names, imported from their modules on first use (PEP 562).

A package that re-exports from modules with heavy dependencies (torch, transformers, lm-eval) would import them
whenever any of its light modules is imported, e.g. by `gentrend check` reading a results table. With

    __all__ = lazy_exports(__name__, {"results": ("load_results",), "run": ("evaluate",)})

`from package import load_results` imports package.results alone; `evaluate` imports package.run when named.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]) -> list[str]:
    """Make the package `package` export `exports` (module name -> the names it exports) lazily; its `__all__`.

    A name may be its module's name too (gentrend.profiling.profile, the function, in gentrend.profiling.profile,
    the module): importing the module, which sets the package's attribute of that name, never hides the name."""
    module_of = {name: module for module, names in exports.items() for name in names}

    class LazyPackage(ModuleType):
        def __getattr__(self, name: str) -> object:
            if name not in module_of:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            return getattr(importlib.import_module(f"{package}.{module_of[name]}"), name)

        def __setattr__(self, name: str, value: object) -> None:
            if not (name in module_of and isinstance(value, ModuleType)):
                super().__setattr__(name, value)

    sys.modules[package].__class__ = LazyPackage
    return sorted(module_of)

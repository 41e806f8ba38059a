"""Only the optional C helper is declared here; everything else is in pyproject.toml.

The extension is optional: without a C compiler Cairn installs anyway and uses the NumPy
fallback of the same function.
"""

import platform

from setuptools import Extension, setup

FLAGS = ["-O3", "-march=x86-64-v2"] if platform.machine() in ("x86_64", "AMD64") else ["-O3"]
setup(ext_modules=[Extension("cairn.core.memory.retrieval._hamming", ["native/hamming.c"], optional=True,
                             extra_compile_args=FLAGS)])

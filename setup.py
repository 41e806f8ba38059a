"""Only the optional C helper is declared here; everything else is in pyproject.toml.

The extensions are optional: without a C compiler Cairn installs anyway and uses the NumPy
fallback of the same function.
"""

import platform

from setuptools import Extension, setup

FLAGS = ["-O3", "-march=x86-64-v2"] if platform.machine() in ("x86_64", "AMD64") else ["-O3"]
setup(ext_modules=[Extension("cairn.core.memory.retrieval._hamming", ["native/hamming.c"], optional=True,
                             extra_compile_args=FLAGS),
                   # Weight streaming (flash-aware loading): POSIX threads and madvise, so not on Windows.
                   *([Extension("cairn.core.llm._stream", ["native/stream.c"], optional=True, extra_compile_args=["-O2"])]
                     if platform.system() != "Windows" else [])])

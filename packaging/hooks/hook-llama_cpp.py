"""PyInstaller hook: llama_cpp loads its shared libraries from ``llama_cpp/lib`` with ctypes, which
PyInstaller cannot see; collect them there (see ../bundle_files.py). On Windows, llama.dll also
needs the MSVC OpenMP runtime (vcomp140.dll)."""

from pathlib import Path

from bundle_files import llama_libraries, openmp_runtime
from PyInstaller.utils.hooks import get_package_paths

binaries = llama_libraries(Path(get_package_paths("llama_cpp")[1])) + openmp_runtime()

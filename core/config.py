"""Settings: frozen dataclasses with defaults in code.

The user's TOML file holds only overrides. :func:`load` checks every key and reports every
problem at once (unknown keys, wrong types, out-of-range values) in one :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.core.errors import ConfigError

EMBEDDERS = ("auto", "hashing", "all-minilm-l6-v2")


def _opt(default: Any, *, lo: float | None = None, hi: float | None = None,
         choices: tuple[str, ...] | None = None, doc: str = "") -> Any:
    """A settings field with its validation rule kept beside its default."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "choices": choices, "doc": doc})


@dataclass(frozen=True)
class MemorySettings:
    max_text_bytes: int = _opt(32 * 1024, lo=16, hi=16 * 1024 * 1024,
                               doc="largest memory text accepted, in UTF-8 bytes")
    embedder: str = _opt("auto", choices=EMBEDDERS,
                         doc="embedder for new vectors; auto = MiniLM when installed or installable, else hashing")
    hashing_dim: int = _opt(384, lo=16, hi=4096, doc="dimension of the hashing embedder")
    embed_threads: int = _opt(0, lo=0, hi=256, doc="threads for the ONNX embedder (0 = up to 4)")


@dataclass(frozen=True)
class StorageSettings:
    busy_timeout_ms: int = _opt(10_000, lo=0, hi=600_000,
                                doc="how long a writer waits for another process's lock")


@dataclass(frozen=True)
class RecallSettings:
    default_k: int = _opt(5, lo=1, hi=1000, doc="memories returned by recall when k is not given")
    max_query_bytes: int = _opt(4096, lo=16, hi=1024 * 1024, doc="longest query accepted, in UTF-8 bytes")
    candidates: int = _opt(50, lo=1, hi=10_000, doc="candidates taken from each retriever before fusion")
    rescore: int = _opt(600, lo=10, hi=100_000,
                        doc="memories re-scored by exact cosine after the binary-code prefilter")
    fusion: str = _opt("learned", choices=("learned", "fixed"),
                       doc="how candidates are ranked: the fitted ranker (used with the embedder it was fitted for) "
                           "or fixed shares")
    ranker_file: str = _opt("", doc="ranker weights to use instead of the shipped ones (a path)")


@dataclass(frozen=True)
class RetentionSettings:
    min_strength_days: float = _opt(7.0, lo=0.01, hi=36500.0,
                                     doc="strength (days) of a memory of importance 0: how fast trivia fades")
    max_strength_days: float = _opt(1825.0, lo=0.01, hi=365000.0,
                                     doc="strength (days) of a memory of importance 1")
    recall_gain: float = _opt(1.0, lo=0.0, hi=100.0,
                              doc="how much a recall after a long gap multiplies strength (spacing effect)")
    recall_floor_days: float = _opt(1.0, lo=0.0, hi=3650.0, doc="days of strength every recall adds at least")
    archive_below: float = _opt(0.05, lo=0.0, hi=0.99,
                                doc="a sweep archives unpinned memories whose retention fell below this")
    max_memories: int = _opt(0, lo=0, hi=1_000_000_000,
                             doc="storage budget: live memories a sweep keeps at most (0 = no budget)")
    duplicate_similarity: float = _opt(0.95, lo=0.5, hi=1.0,
                                       doc="cosine above which a new memory merges into a recent one")
    supersede_similarity: float = _opt(0.75, lo=0.3, hi=1.0,
                                       doc="cosine above which a changed statement can supersede an older one")
    burst_seconds: float = _opt(120.0, lo=0.0, hi=86_400.0,
                                doc="a conversation message sent this soon after the same speaker's previous one "
                                    "continues that memory (a thought split over several messages; 0 = never)")
    burst_chars: int = _opt(800, lo=0, hi=100_000,
                            doc="the longest a memory grows by continued messages (characters)")
    recall_weight: float = _opt(0.0, lo=0.0, hi=1.0,
                                doc="how much recall ranking weighs retention (0 = not at all)")
    store_trivial: bool = _opt(False, doc="store conversation turns with no content (\"ok\") as memories too")
    weights_file: str = _opt("", doc="importance weights to use instead of the shipped ones (a path)")


@dataclass(frozen=True)
class GateSettings:
    threshold: float = _opt(-1.0, lo=-1.0, hi=1.0, doc="retrieve when the gate's probability reaches this "
                                                       "(-1: the threshold fitted from measured costs)")
    weights_file: str = _opt("", doc="gate weights to use instead of the shipped ones (a path)")


MODEL_DEFAULT = -1.0  # a sampling value of -1 means "the model's measured default" (models/llms.json)


@dataclass(frozen=True)
class LlmSettings:
    model: str = _opt("auto", doc="chat model: auto (the bundled SmolLM2 when installed), none (memory-only), "
                                  "an installed model's name, or a GGUF path")
    n_ctx: int = _opt(4096, lo=256, hi=1_048_576, doc="context window in tokens")
    n_threads: int = _opt(0, lo=0, hi=256, doc="CPU threads (0 = the machine's cores, at most 8)")
    n_batch: int = _opt(512, lo=16, hi=8192, doc="tokens evaluated per batch")
    kv_type: str = _opt("f16", choices=("f16", "q8_0", "q4_0"), doc="KV cache precision")
    use_mmap: bool = _opt(True, doc="memory-map the weights (a model larger than free RAM still runs)")
    use_mlock: bool = _opt(False, doc="lock the weights in RAM")
    load_plan: str = _opt("auto", choices=("auto", "plain"),
                          doc="auto: plan loading for the RAM there is (stream a model larger than it); plain: "
                              "llama.cpp's memory map as it comes")
    ram_limit_mb: int = _opt(0, lo=0, hi=16_777_216,
                             doc="RAM the model may use, in MiB (0 = what this machine and its cgroup allow)")
    gpu_layers: int = _opt(0, lo=0, hi=1000, doc="layers offloaded to a GPU when llama.cpp was built with one")
    flash_attn: str = _opt("auto", choices=("auto", "on", "off"),
                           doc="flash attention (auto: on for a quantised KV cache or a GPU, off on the CPU with f16)")
    eviction: str = _opt("sink_window", choices=("sink_window", "entropy"),
                         doc="what to drop when the context fills (StreamingLLM or SirLLM)")
    sink_tokens: int = _opt(4, lo=0, hi=1024, doc="attention-sink tokens always kept")
    temperature: float = _opt(MODEL_DEFAULT, lo=-1.0, hi=2.0, doc="sampling temperature (0 = greedy; -1 = the model's default)")
    top_p: float = _opt(MODEL_DEFAULT, lo=-1.0, hi=1.0, doc="nucleus sampling mass (-1 = the model's default)")
    repeat_penalty: float = _opt(MODEL_DEFAULT, lo=-1.0, hi=3.0,
                                 doc="penalty on tokens the reply already used (1 = off; -1 = the model's default)")


@dataclass(frozen=True)
class AssistantSettings:
    k: int = _opt(5, lo=1, hi=100, doc="memories recalled per personal question")
    min_cosine: float = _opt(0.3, lo=-1.0, hi=1.0, doc="memories less similar than this are not shown")
    memory_tokens: int = _opt(512, lo=16, hi=65536, doc="most prompt tokens the shown memories may take")
    max_tokens: int = _opt(-1, lo=-1, hi=65536, doc="longest reply in tokens (-1 = the model's default)")
    vote_low: float = _opt(0.2, lo=0.0, hi=1.0, doc="the model's <RET> vote is asked when the gate's probability "
                                                    "is above this ...")
    vote_high: float = _opt(0.8, lo=0.0, hi=1.0, doc="... and below this")
    llm_vote: str = _opt("auto", choices=("auto", "on", "off"),
                         doc="let the model vote <RET> in the unsure band (auto: where it measurably helps)")
    extract_facts: str = _opt("auto", choices=("auto", "on", "off"),
                              doc="extract atomic facts from statements with the model (auto: models that pass "
                                  "the grounding bar)")
    answers: str = _opt("auto", choices=("auto", "phrased", "extractive"),
                        doc="memory answers in the model's words (checked against the memories) or quoted")
    user: str = _opt("user", doc="the speaker name the user's own turns are stored under")
    rerank: str = _opt("off", choices=("on", "off"),
                       doc="reorder the best recalled memories by how likely the chat model finds the question "
                           "after each (never loads the model for that alone, as for a date question)")
    rerank_depth: int = _opt(10, lo=2, hi=50, doc="recalled memories the model reorders")
    rerank_weight: float = _opt(2.0, lo=0.0, hi=10.0,
                                doc="weight of the model's likelihood (a z-score among the memories reordered) "
                                    "against recall's log-odds")


@dataclass(frozen=True)
class McpSettings:
    default_scope: str = _opt("read-write", choices=("read", "read-write", "off"),
                              doc="what a client Cairn has not seen before may do (MCP clients and other programs)")


@dataclass(frozen=True)
class DaemonSettings:
    keep_alive_s: float = _opt(300.0, lo=0.0, hi=7 * 86400.0,
                               doc="seconds the daemon keeps the chat model loaded when idle (0: always)")


@dataclass(frozen=True)
class Settings:
    memory: MemorySettings = field(default_factory=MemorySettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    recall: RecallSettings = field(default_factory=RecallSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    llm: LlmSettings = field(default_factory=LlmSettings)
    gate: GateSettings = field(default_factory=GateSettings)
    assistant: AssistantSettings = field(default_factory=AssistantSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    mcp: McpSettings = field(default_factory=McpSettings)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)


def load(path: Path) -> Settings:
    """Read overrides from ``path`` (a missing file means all defaults)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError([f"cannot read the file ({exc.strerror or exc})"], str(path)) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not valid UTF-8 at byte {exc.start}"], str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML ({exc})"], str(path)) from exc
    return from_mapping(data, source=str(path))


def from_mapping(data: dict[str, Any], source: str | None = None) -> Settings:
    """Build settings from a nested mapping of overrides, validating everything at once."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    known = {f.name: f for f in dataclasses.fields(Settings)}
    for name, value in data.items():
        if name not in known:
            problems.append(f"unknown section [{name}] (known: {', '.join(known)})")
        elif not isinstance(value, dict):
            problems.append(f"[{name}] must be a table of settings")
        else:
            section_type = known[name].default_factory
            sections[name] = _build_section(name, section_type, value, problems)
    if problems:
        raise ConfigError(problems, source)
    return Settings(**sections)


def _build_section(name: str, cls: Any, values: dict[str, Any], problems: list[str]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        spec = fields.get(key)
        if spec is None:
            problems.append(f"unknown key {name}.{key} (known: {', '.join(fields)})")
            continue
        problem = _check(spec, value)
        if problem:
            problems.append(f"{name}.{key} {problem}")
        else:
            kwargs[key] = value
    return cls(**kwargs)


def _check(spec: dataclasses.Field[Any], value: Any) -> str | None:
    expected = type(spec.default)
    if isinstance(value, bool) and expected is not bool:
        return f"must be {expected.__name__}, got a boolean"
    if expected is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, expected):
        return f"must be {expected.__name__}, got {type(value).__name__} {value!r}"
    meta = spec.metadata
    if meta["choices"] and value not in meta["choices"]:
        return f"must be one of {', '.join(meta['choices'])}, got {value!r}"
    if meta["lo"] is not None and value < meta["lo"]:
        return f"must be at least {meta['lo']}, got {value}"
    if meta["hi"] is not None and value > meta["hi"]:
        return f"must be at most {meta['hi']}, got {value}"
    return None

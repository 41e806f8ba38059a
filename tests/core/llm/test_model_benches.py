"""Benchmarks that take a model, on real llama.cpp with the tiny model (contracts, not figures)."""

import json
from pathlib import Path

from cairn.core.bench import retention
from cairn.core.llm.runtime import Runtime
from cairn.core.memory.retrieval.embed import HashingEmbedder
from tests.core.bench.test_bench import CONV


def test_retention_with_the_models_surprisal_reports_word_frequencies_beside(runtime: Runtime,
                                                                            tmp_path: Path) -> None:
    path = tmp_path / "conv.json"
    path.write_text(json.dumps([CONV]))
    report = retention.run(path, 0.5, embedder=HashingEmbedder(), scorer=runtime)
    assert report["background"] == f"llm:{runtime.model_id}"
    assert set(report["word_frequency"]) == {"evidence_kept", "text_kept", "recall@10_after_sweep",
                                           "answer_words@10_after_sweep"}
    assert 0.0 <= report["evidence_kept"] <= 1.0 and report["turns"] == 5

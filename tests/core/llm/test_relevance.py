"""log p(query | passage) on real llama.cpp: the tiny random model for the arithmetic, the bundled
SmolLM2 for the judgement."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cairn.core.llm.chat import Chat
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.relevance import QueryLikelihood
from cairn.core.llm.runtime import CONVERSATION, SCRATCH, Runtime
from cairn.core.llm.session import Session


def whole_sequence(rt: Runtime, head: list[int], body: list[int], tail: list[int]) -> float:
    """The same log-probability from one evaluation of the whole sequence, from position 0."""
    rt.kv_clear(CONVERSATION)
    try:
        rows = rt.decode(head + body + tail[:-1], 0, CONVERSATION, logits="all").astype(np.float64)
    finally:
        rt.kv_clear(CONVERSATION)
    rows = rows[len(head) + len(body) - 1:]
    top = rows.max(axis=1)
    logz = top + np.log(np.exp(rows - top[:, None]).sum(axis=1))
    return float((rows[np.arange(len(tail)), tail] - logz).sum())


def test_likelihoods_match_one_whole_evaluation_and_leave_the_chat_alone(runtime: Runtime) -> None:
    head = runtime.tokenize("<|im_start|>user\nHere is a message.\n")
    bodies = [runtime.tokenize(t) for t in ("My sister lives in Lisbon.<|im_end|>\n",
                                            "The bus was late again today, sadly.<|im_end|>\n")]
    tail = runtime.tokenize("Where does my sister live?", special=False)
    expected = [whole_sequence(runtime, head, b, tail) for b in bodies]
    session = Session(runtime)
    session.sync(runtime.tokenize("<|im_start|>user\nhello<|im_end|>\n"))
    held = runtime.kv_pos_max(CONVERSATION)
    got = runtime.likelihoods(head, bodies, tail)
    assert got == pytest.approx(expected, abs=2e-2) and got[0] != got[1] and all(v < 0 for v in got)
    assert runtime.kv_pos_max(CONVERSATION) == held and runtime.kv_pos_max(SCRATCH) == -1
    with pytest.raises(ValueError, match="at least one token"):
        runtime.likelihoods(head, bodies, [])


def test_query_likelihood_gives_one_value_a_passage_or_none_when_it_cannot(tiny_model: Path) -> None:
    with Runtime(tiny_model, LoadOptions(n_ctx=128, n_batch=64, n_threads=2)) as rt:
        scorer = QueryLikelihood(rt, Chat(rt, Session(rt)).template)
        values = scorer("Where does Ana live?", ["(8 May 2023) Ana: I live in Porto.", "(9 May 2023) Ben: Hi."])
        assert values is not None and len(values) == 2
        assert scorer("Where does Ana live?", []) == []
        assert scorer("", ["(8 May 2023) Ana: I live in Porto."]) is None  # nothing to score
        assert scorer("Where does Ana live?", ["word " * 300]) is None  # no room in 128 tokens: declined


@pytest.fixture(scope="module")
def smollm() -> Iterator[Runtime]:
    from cairn.core.llm import catalog

    path = catalog.bundled_file()
    assert path is not None, catalog.bundled_spec().install_hint
    with Runtime(path, LoadOptions(n_ctx=1024, n_threads=2)) as rt:
        yield rt


def test_the_bundled_model_finds_the_question_likelier_after_the_memory_that_answers_it(smollm: Runtime) -> None:
    scorer = QueryLikelihood(smollm, Chat(smollm, Session(smollm)).template)
    memories = ["(8 May 2023) Caroline: I went to an LGBTQ support group yesterday and it was so powerful.",
                "(8 May 2023) Melanie: I painted a lake sunrise last year, it's special to me.",
                "(9 June 2023) Caroline: The adoption agency called me back about the interview."]
    for question, best in (("When did Caroline go to the LGBTQ support group?", 0),
                           ("What did Melanie paint?", 1), ("What did the adoption agency do?", 2)):
        values = scorer(question, memories)
        assert values is not None and int(np.argmax(values)) == best, (question, values)

from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieve import Retrievers, fuse


def test_rrf_fusion_rewards_agreement() -> None:
    fused = fuse({"vector": [(1, 0.1), (2, 0.2)], "keyword": [(2, -3.0), (3, -1.0)]}, rrf_k=60)
    order = sorted(fused, key=lambda i: -fused[i][0])
    assert order[0] == 2
    assert fused[2][1] == {"vector_rank": 2.0, "vector_score": 0.2, "keyword_rank": 1.0, "keyword_score": -3.0}
    assert set(fused) == {1, 2, 3}


def test_each_retriever_can_be_switched_off(bank: MemoryBank) -> None:
    bank.remember("xylophone lessons on thursday")
    bank.remember("music instrument practice schedule")
    only_kw = bank.recall("xylophone", k=5, use=Retrievers(vector=False))
    assert [h.memory.text for h in only_kw] == ["xylophone lessons on thursday"]
    assert all("vector_rank" not in h.signals for h in only_kw)
    only_vec = bank.recall("xylophone", k=5, use=Retrievers(keyword=False))
    assert len(only_vec) == 2 and all("keyword_rank" not in h.signals for h in only_vec)


def test_fts_query_is_not_injectable(bank: MemoryBank) -> None:
    bank.remember('quotes " and NEAR( operators * are just text')
    for q in ['"', "NEAR(", "a AND OR NOT b", "*", "col:umn", "))"]:
        bank.recall(q)  # must not raise an FTS syntax error

import subprocess
import sys

import numpy as np

from cairn.core.config import Settings
from cairn.core.memory.retrieval.embed import Embedder, HashingEmbedder, make_embedder


def test_protocol_and_shape() -> None:
    e = make_embedder(Settings())
    assert isinstance(e, Embedder)
    v = e.embed(["hello world", "another text", "!!!"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_deterministic_across_processes() -> None:
    here = HashingEmbedder(64).embed(["Cairn remembers what matters"])[0]
    code = ("from cairn.core.memory.retrieval.embed import HashingEmbedder; import sys; "
            "sys.stdout.write(HashingEmbedder(64).embed(['Cairn remembers what matters'])[0].tobytes().hex())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert np.array_equal(here, np.frombuffer(bytes.fromhex(there), dtype=np.float32))


def test_related_texts_are_closer_than_unrelated() -> None:
    e = HashingEmbedder()
    a, b, c = e.embed(["my sister lives in Lisbon", "where does my sister live?", "the car service is in June"])
    assert float(a @ b) > float(a @ c)
    # character n-grams survive inflection
    x, y, z = e.embed(["running shoes", "I run every morning", "tax return"])
    assert float(x @ y) > float(x @ z)


def test_stopwords_do_not_dominate() -> None:
    e = HashingEmbedder()
    q, good, bad = e.embed(["what does the cat need", "cat Biscuit needs medication",
                            "what is the password for the cabin"])
    assert float(q @ good) > float(q @ bad)

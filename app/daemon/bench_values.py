"""Random values for the daemon fuzzer (:mod:`.bench_fuzz`): JSON of every type, awkward strings,
path and query values at and past the edges, a body with bytes that are not UTF-8."""

from __future__ import annotations

import random
import string as ascii_text
from typing import Any

STRINGS = ["", " ", "a", "\u00a0", "café", "日本語のテキスト", "🙂🙃", "\u0000", "\ud800", "\udfff", "a\u0000b",
           "'; DROP TABLE memories; --", "%s%n{0}{}", "<script>alert(1)</script>", "../../etc/passwd", "\\",
           "null", "true", "-1", "1e309", "NaN", "\r\n\r\n", "\u202eevil", "\ufeffbom", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]
INTS = [0, 1, -1, 2, 2**31 - 1, 2**31, 2**53 + 1, 2**62, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, -(10**30)]
FLOATS = [0.0, -0.0, 0.5, -1.5, 1e-300, 1e300, 1.7976931348623157e308, float("nan"), float("inf"), float("-inf")]
PATH_INTS = ["0", "-1", "1", "2", "3", "9223372036854775807", "9223372036854775808", "1" * 40, "abc", "1.5",
             "1e3", " 1", "0x10", "１２", "%00", "", "+5", "-0", "00001", "1_000"]


def string(rng: random.Random) -> str:
    """An awkward string: a known troublemaker, random letters, random code points or a long one."""
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(STRINGS)
    if roll < 0.7:
        return "".join(rng.choice(ascii_text.ascii_letters + " .,?!") for _ in range(rng.randint(1, 40)))
    if roll < 0.9:
        return "".join(chr(rng.choice([rng.randint(32, 0x2FF), rng.randint(0x300, 0xFFFF), rng.randint(0x10000, 0x10FFFF)]))
                       for _ in range(rng.randint(1, 20)))
    return rng.choice(["x", "memory ", "ü", "🙂"]) * rng.choice([1000, 20_000, 300_000])


def scalar(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.3:
        return string(rng)
    if roll < 0.55:
        return rng.choice(INTS) if rng.random() < 0.5 else rng.randint(-1000, 1000)
    if roll < 0.7:
        return rng.choice(FLOATS)
    return rng.choice([True, False, None])


def json_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value (NaN and Infinity included, as Python's json writes them)."""
    roll = rng.random()
    if depth >= 4 or roll < 0.5:
        return scalar(rng)
    if roll < 0.75:
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {string(rng)[:30]: json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def mutate(value: Any, rng: random.Random) -> Any:
    """A near miss of ``value``: a key dropped, an unknown key added, a field with a random value,
    a nested value spoiled, or the whole replaced by random JSON."""
    if not isinstance(value, dict) or not value or rng.random() < 0.1:
        return json_value(rng) if rng.random() < 0.5 or not isinstance(value, dict) else {"unknown": json_value(rng)}
    out = dict(value)
    key = rng.choice(list(out))
    roll = rng.random()
    if roll < 0.25:
        del out[key]
    elif roll < 0.4:
        out[string(rng)[:30] or "extra"] = json_value(rng)
    elif roll < 0.8:
        out[key] = scalar(rng) if rng.random() < 0.7 else json_value(rng)
    elif isinstance(out[key], list) and out[key]:
        out[key] = [mutate(v, rng) for v in out[key]]
    else:
        out[key] = mutate(out[key], rng)
    return out


def path_value(schema: dict[str, Any], rng: random.Random, names: list[str]) -> str:
    """A path parameter: often one that exists (an id up to 40, a known name), else an odd one."""
    if schema.get("type") == "integer":
        return rng.choice(PATH_INTS) if rng.random() < 0.5 else str(rng.randint(1, 60))
    if names and rng.random() < 0.4:
        return rng.choice(names)
    return string(rng)[:5000] or "x"


def query_value(schema: dict[str, Any], rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3 and schema.get("type") == "integer":
        return str(rng.choice(INTS + [rng.randint(0, 100)]))
    if roll < 0.45 and schema.get("type") == "boolean":
        return rng.choice(["true", "false", "1", "0", "yes", "maybe"])
    if roll < 0.6 and "enum" in schema:
        return str(rng.choice(schema["enum"]))
    return rng.choice(PATH_INTS + [string(rng)[:2000]])


def with_bad_bytes(body: bytes, rng: random.Random) -> bytes:
    """``body`` with bytes that are not UTF-8 put in after a quote (so mostly inside a string)."""
    bad = rng.choice([b"\xff", b"\xfe\xff", b"\xc3", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"])
    quotes = [i for i, c in enumerate(body) if c == ord('"')]
    at = rng.choice(quotes) + 1 if quotes else rng.randrange(len(body) + 1)
    return body[:at] + bad + body[at:]

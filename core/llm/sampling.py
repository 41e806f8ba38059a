"""How to sample and what a generation returns: plain values, no llama.cpp."""

from __future__ import annotations

from dataclasses import dataclass

# GBNF for any JSON value (after llama.cpp's grammars/json.gbnf): `Sampling(grammar=JSON_GRAMMAR)`.
JSON_GRAMMAR = r"""
root   ::= value
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9]{1,15})? ws
ws     ::= | " " | "\n" [ \t]{0,20}
"""


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int  # generated
    finish: str  # stop (end of turn), stop_sequence, length (max_tokens reached), context (window full)
    prompt_tokens: int


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7  # 0: greedy
    top_k: int = 40
    top_p: float = 0.95
    seed: int = 0
    grammar: str | None = None  # GBNF, e.g. for JSON output
    repeat_penalty: float = 1.0  # > 1 makes tokens already generated less likely (1 = off)
    repeat_last_n: int = 64  # how many generated tokens the penalty looks back over

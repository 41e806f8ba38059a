"""Part 3 of `cairn bench daemon`: random and malformed requests against every route of the
daemon's own OpenAPI document (taken in turn, so each gets its share).

A request is built from the route's schema and then, most of the time, spoiled: a field dropped,
added or given the wrong type, random JSON, invalid UTF-8, truncated or deeply nested JSON, stray
bytes, no body, a wrong content type, odd path and query values, another method or a made-up path.
A 5xx reply, or no reply at all, is a failure; a 4xx must carry the error shape. Requests are
seeded one by one (the example list says which), so a failure can be replayed. A chat completion
that would really run the model is allowed a few times only (it takes a second or so each).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from cairn.app.daemon.bench_home import Progress, fresh_home, no_progress, running
from cairn.app.daemon.bench_values import json_value, mutate, path_value, query_value, string, with_bad_bytes
from cairn.app.protocol import SOCKET_NAME, ChatRequest, message_text
from cairn.core import Paths

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ODD_METHODS = ["PROPFIND", "TRACE", "FOO", "M-SEARCH"]
BAD_PATHS = ["/v1/", "/v1/memories/1/../../health", "//v1//memories", "/v1/memories%2f1", "/%ff%fe",
             "/v1/chat/completions/", "/v1/memories/1/history/", "/" + "a" * 5000, "/v1/memories/search/1"]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "application/x-ndjson",
                 "application/json; charset=latin-1", "multipart/form-data; boundary=x"]
CHAT = ("POST", "/v1/chat/completions")
EXAMPLES = 5
SEEDED = 40


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    params: tuple[dict[str, Any], ...] = ()
    schema: dict[str, Any] | None = None
    media: str = "application/json"


@dataclass
class Request:
    method: str
    target: str  # the path and query, percent-encoded
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self, seed: int) -> dict[str, Any]:
        return {"seed": seed, "method": self.method, "target": self.target[:300],
                "content_type": self.headers.get("content-type"),
                "body": None if self.content is None else repr(self.content[:200])}


def encoded(text: str) -> str:
    """``text`` percent-encoded for a URL (a lone surrogate becomes the bytes that are not UTF-8)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def raw(text: str) -> str:
    """``text`` as it may stand in a URL unencoded (the client encodes what it must)."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def routes_of(doc: dict[str, Any]) -> list[Route]:
    """Every (method, path) in an OpenAPI document, with its parameters and body schema."""
    found = [Route("GET", "/openapi.json")]
    for path, operations in doc.get("paths", {}).items():
        for method, op in operations.items():
            content: dict[str, dict[str, Any]] = op.get("requestBody", {}).get("content", {})
            media = next(iter(content), "application/json")
            found.append(Route(method.upper(), path, tuple(op.get("parameters", [])),
                               content[media].get("schema") if content else None, media))
    return found


class Schemas:
    """Values shaped by a JSON schema (resolving ``$ref`` into the document's components)."""

    def __init__(self, doc: dict[str, Any], names: list[str] | None = None) -> None:
        self.components: dict[str, Any] = doc.get("components", {}).get("schemas", {})
        self.names = names or []  # conversation names that exist

    def value(self, schema: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
        if "$ref" in schema:
            return self.value(self.components.get(schema["$ref"].rsplit("/", 1)[-1], {}), rng, depth)
        choices = schema.get("anyOf") or schema.get("oneOf")
        if choices:
            return self.value(rng.choice(choices), rng, depth)
        if "enum" in schema and rng.random() < 0.8:
            return rng.choice(schema["enum"])
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            required = set(schema.get("required", []))
            return {k: self.value(s, rng, depth + 1) for k, s in schema.get("properties", {}).items()
                    if k in required or (depth < 4 and rng.random() < 0.5)}
        if kind == "array":
            items = schema.get("items", {})
            return [self.value(items, rng, depth + 1) for _ in range(rng.choice([0, 1, 1, 2, 3]) if depth < 4 else 0)]
        if kind in ("integer", "number"):
            low, high = int(schema.get("minimum", -10)), int(min(schema.get("maximum", 1000), 10**6))
            high = max(low, min(high, low + 40) if rng.random() < 0.6 else high)  # mostly ids that exist
            return rng.randint(low, high) if kind == "integer" else rng.uniform(low, high)
        if kind == "string":
            return string(rng)
        if kind == "boolean":
            return rng.random() < 0.5
        return None if kind == "null" else json_value(rng, depth + 2)


def build(route: Route, schemas: Schemas, rng: random.Random) -> Request:
    """One request for ``route``, spoiled in some random way most of the time."""
    method = route.method if rng.random() < 0.85 else rng.choice(METHODS if rng.random() < 0.7 else ODD_METHODS)
    path = route.path
    for p in route.params:
        if p.get("in") == "path":
            value = path_value(p.get("schema", {}), rng, schemas.names)
            path = path.replace("{" + p["name"] + "}", encoded(value) if rng.random() < 0.85 else raw(value))
    if rng.random() < 0.06:
        path = rng.choice(BAD_PATHS + [f"/v1/{encoded(string(rng))}"])
    params = [(p["name"], query_value(p.get("schema", {}), rng)) for p in route.params
              if p.get("in") == "query" and rng.random() < 0.6]
    if rng.random() < 0.1:
        params.append((string(rng)[:40] or "x", string(rng)[:200]))
    query = "&".join(f"{encoded(k)}={encoded(v)}" for k, v in params)
    content, media = _body(route, schemas, rng)
    return Request(method, path + (f"?{query}" if query else ""), content, {"content-type": media} if media else {})


def _body(route: Route, schemas: Schemas, rng: random.Random) -> tuple[bytes | None, str]:
    media = route.media if rng.random() < 0.85 else rng.choice(CONTENT_TYPES)
    base = schemas.value(route.schema, rng) if route.schema is not None else json_value(rng)
    if (route.method, route.path) == CHAT and isinstance(base, dict) and rng.random() < 0.3:
        base["messages"] = [{"role": "user", "content": string(rng)}]  # odd text for the model itself
    roll = rng.random()
    if roll < 0.30:
        return json.dumps(base).encode(), media
    if roll < 0.58:
        return json.dumps(mutate(base, rng)).encode(), media
    if roll < 0.70:
        return json.dumps(json_value(rng)).encode(), media
    if roll < 0.78:
        return with_bad_bytes(json.dumps(base, ensure_ascii=False).encode("utf-8", "surrogatepass"), rng), media
    if roll < 0.85:
        whole = json.dumps(base).encode()
        return whole[: rng.randrange(len(whole))] if whole else b"{", media
    if roll < 0.90:
        return rng.randbytes(rng.randrange(200)), media
    if roll < 0.92:
        depth = rng.choice([100, 1000, 50_000])
        return (b'{"a":' * depth + b"1" + b"}" * depth) if rng.random() < 0.5 else b"[" * depth + b"]" * depth, media
    return None, media if rng.random() < 0.5 else ""


def runs_model(request: Request) -> bool:
    """Whether the daemon would run the chat model for this request (it is slow: kept rare)."""
    if (request.method, request.target.split("?", 1)[0]) != CHAT or request.content is None:
        return False
    try:
        body = ChatRequest.model_validate_json(request.content)
    except (ValidationError, ValueError, RecursionError):
        return False
    return body.messages[-1].role == "user" and bool(message_text(body.messages[-1]).strip())


class Outcomes:
    """What the fuzzer saw, from several threads: status classes, failures and a few examples."""

    def __init__(self, model_calls: int) -> None:
        self.lock = threading.Lock()
        self.model_calls_left = model_calls
        self.sent = self.unsendable = self.server_errors = self.no_reply = self.bad_shape = self.fuzzer_errors = 0
        self.statuses: dict[str, int] = {}
        self.ok_routes: set[str] = set()
        self.examples: dict[str, list[dict[str, Any]]] = {"server_errors": [], "no_reply": [], "bad_shape": [],
                                                          "fuzzer_errors": []}

    def take_model_call(self) -> bool:
        with self.lock:
            self.model_calls_left -= 1
            return self.model_calls_left >= 0

    def record(self, route: str, request: Request, seed: int, reply: httpx.Response | str) -> None:
        with self.lock:
            self.sent += 1
            if isinstance(reply, str):
                if reply == "unsendable":
                    self.unsendable += 1
                else:
                    self.no_reply += 1
                    self._example("no_reply", request, seed, route=route, error=reply)
                return
            status = reply.status_code
            self.statuses[f"{status // 100}xx"] = self.statuses.get(f"{status // 100}xx", 0) + 1
            if status < 300:
                self.ok_routes.add(route)
            if status >= 500:
                self.server_errors += 1
                self._example("server_errors", request, seed, route=route, status=status, reply=reply.text[:300])
            elif status >= 400 and request.method != "HEAD" and not _error_shaped(reply):
                self.bad_shape += 1
                self._example("bad_shape", request, seed, route=route, status=status, reply=reply.text[:300])

    def fuzzer_error(self, seed: int, exc: Exception) -> None:
        """A bug in the fuzzer itself (counted and shown, so it is fixed; the run goes on)."""
        with self.lock:
            self.fuzzer_errors += 1
            if len(self.examples["fuzzer_errors"]) < EXAMPLES:
                self.examples["fuzzer_errors"].append({"seed": seed, "error": f"{type(exc).__name__}: {exc}"})

    def _example(self, kind: str, request: Request, seed: int, **facts: Any) -> None:
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append({**request.describe(seed), **facts})


def _error_shaped(reply: httpx.Response) -> bool:
    try:
        error = reply.json()["error"]
        return bool(error["code"]) and isinstance(error["message"], str) and error["message"].endswith(".")
    except (ValueError, KeyError, TypeError):
        return False


def fuzz(requests: int = 10_000, threads: int = 4, model_calls: int = 10, seed: int = 0,
         progress: Progress = no_progress) -> dict[str, Any]:
    """``requests`` random requests from ``threads`` connections at once, on a fresh daemon."""
    outcomes = Outcomes(model_calls)
    with fresh_home() as where, running(where):
        with _http(where) as http:
            doc = http.get("/openapi.json").json()
            routes, schemas = routes_of(doc), Schemas(doc, _seed(http))
        workers = [threading.Thread(target=_worker, args=(where, routes, schemas, range(t, requests, threads), seed,
                                                          outcomes)) for t in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        while any(w.is_alive() for w in workers):
            progress("fuzz requests", outcomes.sent, requests)
            time.sleep(0.5)
        wall = time.perf_counter() - started
        with _http(where) as http:
            alive = _answers(http)
    keys = [f"{r.method} {r.path}" for r in routes]
    return {"requests": outcomes.sent, "routes": len(routes), "seed": seed, "wall_s": round(wall, 1),
            "statuses": dict(sorted(outcomes.statuses.items())), "server_errors": outcomes.server_errors,
            "no_reply": outcomes.no_reply, "bad_error_shape": outcomes.bad_shape, "unsendable": outcomes.unsendable,
            "fuzzer_errors": outcomes.fuzzer_errors,
            "model_runs": model_calls - max(0, outcomes.model_calls_left), "alive_after": alive,
            "routes_never_2xx": [k for k in keys if k not in outcomes.ok_routes], "examples": outcomes.examples}


def _http(where: Paths) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(where.run_dir / SOCKET_NAME)), base_url="http://cairn",
                        timeout=httpx.Timeout(120.0, connect=5.0))


def _seed(http: httpx.Client) -> list[str]:
    """Memories (ids 1 to SEEDED) and two logged conversations, so that valid ids and names occur;
    returns the conversations' names."""
    for i in range(SEEDED):
        http.post("/v1/memories", json={"text": f"Seeded note {i}: the plum tree by the river, year {2000 + i}."})
    names = []
    for text in ("I planted tomatoes today.", "My sister Ana moved to Porto."):  # statements: no model run
        reply = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]})
        names.append(str(reply.json().get("cairn", {}).get("conversation", "chat-x")))
    return names


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.HTTPError:
        return False


def _worker(where: Paths, routes: list[Route], schemas: Schemas, indexes: range, seed: int, outcomes: Outcomes) -> None:
    """Sends its share of the requests on one connection; a new one after a failure (a 5xx may
    close the connection, and the next request must not be blamed for that)."""
    http = _http(where)
    try:
        for i in indexes:
            one = seed * 1_000_003 + i
            route = routes[i % len(routes)]
            try:
                request = _request(route, schemas, random.Random(one), outcomes)
                reply = _send(http, request)
            except Exception as exc:  # noqa: BLE001 - a fuzzer bug must not end the run: it is counted
                outcomes.fuzzer_error(one, exc)
                continue
            outcomes.record(f"{route.method} {route.path}", request, one, reply)
            if isinstance(reply, str) or reply.status_code >= 500:
                http.close()
                http = _http(where)
    finally:
        http.close()


def _request(route: Route, schemas: Schemas, rng: random.Random, outcomes: Outcomes) -> Request:
    """A request for ``route`` that runs the model only while model calls are left."""
    for _ in range(20):
        request = build(route, schemas, rng)
        if not runs_model(request) or outcomes.take_model_call():
            return request
    return Request(*CHAT, content=b'{"messages": []}', headers={"content-type": "application/json"})


def _send(http: httpx.Client, request: Request) -> httpx.Response | str:
    """The reply; "unsendable" when the client itself refuses the request; else what went wrong."""
    try:
        return http.request(request.method, request.target, content=request.content, headers=request.headers)
    except (httpx.LocalProtocolError, httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError):
        return "unsendable"
    except httpx.TransportError as exc:
        return f"{type(exc).__name__}: {exc}"

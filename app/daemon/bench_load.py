"""Part 2 of `cairn bench daemon`: many clients at once, each with its own connection, sending a
mix of requests (mostly search and add; reads; a chat completion now and then). Every request must
succeed; the latency of each route is reported at p50 and p95."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from cairn.app.client import Client
from cairn.app.daemon.bench_home import Progress, fresh_home, latency_ms, no_progress, running
from cairn.core import Paths, ServiceError

SEED_MEMORIES = 50
CHAT_PROMPTS = ["What is the capital of France?", "Where does Ana live?", "I planted tomatoes today.",
                "Say hello in three words.", "What did I plant?"]
WORDS = ["plum", "river", "Ana", "Lisbon", "dentist", "tomatoes", "cello", "train", "birthday", "keys", "garden"]
Call = Callable[[Client], Any]


class Tally:
    """Latencies per route and the errors seen, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def sample(self, route: str, seconds: float) -> None:
        with self.lock:
            self.samples[route].append(seconds)

    def error(self, route: str, exc: ServiceError) -> None:
        with self.lock:
            self.errors[route].append(f"{route}: {exc.code} (HTTP {exc.status}) {exc.message}")


def concurrency(clients: int = 32, requests: int = 200, chat_every: int = 50, seed: int = 0,
                progress: Progress = no_progress) -> dict[str, Any]:
    """``clients`` threads, each with its own client, each sending ``requests`` requests; one in
    ``chat_every`` a chat completion (0: none)."""
    tally = Tally()
    with fresh_home() as where, running(where):
        ids = _seed(where)
        threads = [threading.Thread(target=_client, args=(where, n, clients, requests, chat_every, random.Random(seed * 7919 + n),
                                                          list(ids), tally)) for n in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for n, t in enumerate(threads):
            t.join()
            progress("concurrency clients", n + 1, clients)
        wall = time.perf_counter() - started
    errors = [e for found in tally.errors.values() for e in found]
    done = sum(len(s) for s in tally.samples.values())
    routes = {route: {**latency_ms(tally.samples.get(route, [])), "errors": len(tally.errors.get(route, []))}
              for route in sorted(set(tally.samples) | set(tally.errors))}
    return {"clients": clients, "requests_each": requests, "chat_every": chat_every, "requests": done + len(errors),
            "errors": len(errors), "error_examples": errors[:5], "wall_s": round(wall, 2),
            "requests_per_s": round((done + len(errors)) / max(wall, 1e-9), 1), "routes": routes}


def _seed(where: Paths) -> list[int]:
    with Client.for_paths(where) as client:
        return [client.request("POST", "/v1/memories", {"text": f"Seed note {i}: Ana keeps the {WORDS[i % len(WORDS)]} "
                                                                f"in Lisbon ({i})."})["id"] for i in range(SEED_MEMORIES)]


def _client(where: Paths, n: int, clients: int, requests: int, chat_every: int, rng: random.Random, ids: list[int],
            tally: Tally) -> None:
    with Client.for_paths(where) as client:
        try:
            client.check_version()
        except ServiceError as exc:
            tally.error("GET /v1/status", exc)
            return
        for i in range(requests):
            chat = chat_every > 0 and (i * clients + n) % chat_every == chat_every - 1  # 1 in chat_every overall
            route, call = _chat(rng) if chat else _request(rng, ids)
            started = time.perf_counter()
            try:
                out = call(client)
            except ServiceError as exc:
                tally.error(route, exc)
                continue
            tally.sample(route, time.perf_counter() - started)
            if route == "POST /v1/memories":
                ids.append(int(out["id"]))


def _chat(rng: random.Random) -> tuple[str, Call]:
    body = {"model": "cairn", "max_tokens": 16, "messages": [{"role": "user", "content": rng.choice(CHAT_PROMPTS)}]}
    return "POST /v1/chat/completions", lambda c: c.request("POST", "/v1/chat/completions", body)


def _request(rng: random.Random, ids: list[int]) -> tuple[str, Call]:
    """A search (45%), an add (35%), a get (10%), a list (5%) or a status (5%)."""
    roll = rng.random()
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    if roll < 0.45:
        body: dict[str, Any] = {"query": f"where is the {words}?", "k": rng.choice([1, 5, 10])}
        return "POST /v1/memories/search", lambda c: c.request("POST", "/v1/memories/search", body)
    if roll < 0.80:
        text = f"Note {rng.randrange(10**9)}: the {words} by the window."
        return "POST /v1/memories", lambda c: c.request("POST", "/v1/memories", {"text": text})
    if roll < 0.90:
        wanted = rng.choice(ids)
        return "GET /v1/memories/{id}", lambda c: c.request("GET", f"/v1/memories/{wanted}")
    if roll < 0.95:
        limit = rng.choice([5, 20, 50])
        return "GET /v1/memories", lambda c: c.request("GET", "/v1/memories", params={"limit": limit})
    return "GET /v1/status", lambda c: c.request("GET", "/v1/status")

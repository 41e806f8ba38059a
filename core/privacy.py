"""Private by construction: no dependency may phone home.

Some libraries Cairn uses send usage events unless told not to, and some only read that setting
once, when they are first imported: onnxruntime 1.32 (measured here: a long-lived process made DNS
queries for a Microsoft events host after 10-16 s and wrote a device id and an event queue under
``~/.cache/Microsoft/``; ``ORT_DISABLE_TELEMETRY=1`` set before its import stopped both, while
``onnxruntime.disable_telemetry_events()`` did not). :func:`lock_down` sets every such switch in
the process environment; ``cairn.core`` calls it when it is imported, before any module that
could import those libraries, and child processes inherit it.

The only network code in Cairn is :mod:`cairn.core.download`, used when the user asks for a
model. Tests check both promises: a long-lived embedding session under ``strace`` opens no
internet socket and writes nothing outside Cairn's own folders.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# Each switch is forced (not a default): a user's environment cannot turn telemetry back on.
SWITCHES: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime usage events (1DS) and its device id
    "HF_HUB_DISABLE_TELEMETRY": "1",  # huggingface_hub, if any dependency imports it
    "HF_HUB_OFFLINE": "1",  # ... and never lets it reach the hub on its own
    "DO_NOT_TRACK": "1",  # the cross-tool convention (consoledonottrack.com)
    # FastAPI (the daemon) depends on the OpenTelemetry API. The API alone records nothing, but an
    # SDK or auto-instrumentation installed in the same environment would export spans: off.
    "OTEL_SDK_DISABLED": "true",
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
}


def lock_down(environ: MutableMapping[str, str] | None = None) -> None:
    """Turn every known telemetry switch off in ``environ`` (default: this process's environment)."""
    target = os.environ if environ is None else environ
    for key, value in SWITCHES.items():
        target[key] = value

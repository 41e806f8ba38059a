"""Private by construction: no telemetry, no sockets, nothing written outside Cairn's folders."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cairn.core import privacy

SESSION = """
import sys, time
from pathlib import Path
from cairn.core.config import Settings
from cairn.core.memory.retrieval.embed import make_embedder
embedder = make_embedder(Settings(), Path(sys.argv[1]))
assert embedder.id.startswith("sentence-transformers"), embedder.id
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:  # a long-lived process using the embedder, as the daemon will be
    embedder.embed(["my sister lives in Lisbon", "what did the doctor say about my knee?"])
    time.sleep(0.25)
print("ok")
"""


def test_lock_down_forces_every_switch() -> None:
    env = {"ORT_DISABLE_TELEMETRY": "0", "DO_NOT_TRACK": "0"}
    privacy.lock_down(env)
    assert env == privacy.SWITCHES and env["ORT_DISABLE_TELEMETRY"] == "1"


def test_importing_core_turns_telemetry_off() -> None:
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "0"}
    out = subprocess.run([sys.executable, "-c", "import os, cairn.core; print(os.environ['ORT_DISABLE_TELEMETRY'])"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "1"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt install strace)")
def test_long_embedding_session_opens_no_socket_and_writes_only_cairn_files(tmp_path: Path,
                                                                             isolated_home: Path) -> None:
    """onnxruntime's telemetry started after 10-16 s; the session runs 22 s under strace."""
    home = Path(os.environ["HOME"])
    home.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "session.py"
    script.write_text(SESSION)
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "0"}  # a user's setting cannot turn it back on
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto", "-o", str(trace),
                           sys.executable, str(script), str(isolated_home / "models"), "22"],
                          capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
    calls = trace.read_text().splitlines()
    internet = [c for c in calls if "AF_INET" in c or "AF_NETLINK" in c or "htons(53)" in c]
    assert internet == [], internet[:5]
    written = [p for p in home.rglob("*")]
    assert written == [], f"files outside Cairn's folders: {written[:5]}"

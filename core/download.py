"""Resumable, checksummed downloads for models the user asked for. The only network code in Cairn.

A download goes to `<dest>.part`, resumes from there with an HTTP Range request, is checked
against a sha256 (pinned in the catalog, or the hub's `X-Linked-Etag` for LFS files) and only
then moved into place atomically. Nothing half-downloaded ever sits under the real name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import BinaryIO

from cairn.core.errors import DownloadError
from cairn.core.paths import ensure_dir

log = logging.getLogger(__name__)
CHUNK = 1 << 20
Progress = Callable[[int, int | None], None]
_SHA = re.compile(r'^"?([0-9a-f]{64})"?$')


def fetch(url: str, dest: Path, sha256: str | None = None, progress: Progress | None = None,
          timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` (resuming a previous ``.part``); verify; move into place."""
    part = dest.with_name(dest.name + ".part")
    ensure_dir(dest.parent)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "cairn", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            expected = sha256 or _hub_sha(response.headers)
            resumed = response.status == 206
            total = _total(response.headers, have if resumed else 0)
            _write(response, part, append=resumed, done=have if resumed else 0, total=total, progress=progress)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            expected = sha256
        else:
            raise DownloadError(f"Downloading {url} failed: HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"Could not download {url}: {reason}.",
                            hint="Check the connection and run the same command again; it resumes.") from exc
    _verify(part, expected, url)
    os.replace(part, dest)
    return dest


def _hub_sha(headers: Message) -> str | None:
    for name in ("X-Linked-Etag", "ETag"):
        value = headers.get(name)
        match = _SHA.match(value.strip()) if value else None
        if match:
            return match.group(1)
    return None


def _total(headers: Message, offset: int) -> int | None:
    length = headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _write(response: BinaryIO, part: Path, append: bool, done: int, total: int | None,
           progress: Progress | None) -> None:
    with part.open("ab" if append else "wb") as out:
        while True:
            chunk = response.read(CHUNK)
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    if total is not None and done < total:
        raise DownloadError(f"The download stopped at {done:,} of {total:,} bytes.",
                            hint="Run the same command again; it resumes where it stopped.")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(part: Path, expected: str | None, url: str) -> None:
    if expected is None:
        log.warning("no checksum known for %s; size-checked only", url)
        return
    actual = sha256_of(part)
    if actual != expected:
        part.unlink()
        raise DownloadError(f"The file from {url} failed its checksum (sha256 {actual[:12]}…, expected "
                            f"{expected[:12]}…); it was deleted.", hint="Run the command again.")

"""`python -m cairn.app.daemon`: the daemon in the foreground (what `cairn daemon start` spawns
and what a systemd unit or LaunchAgent runs)."""

from __future__ import annotations

import argparse
import sys

from cairn.app.daemon import lifecycle
from cairn.core import CairnError, config, paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cairn-daemon", description="The Cairn daemon (foreground).")
    parser.add_argument("--keep-alive", type=float, default=None,
                        help="seconds the model stays loaded when idle (0: always; default from settings)")
    parser.add_argument("--tcp", type=int, default=None, help="also listen on 127.0.0.1:PORT with a bearer token")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    where = paths.resolve()
    files = lifecycle.Files.of(where)
    try:
        settings = config.load(where.config_file)
        lifecycle.setup_log(files, args.verbose)
        keep = args.keep_alive if args.keep_alive is not None else settings.daemon.keep_alive_s
        lifecycle.serve(where, settings, keep, args.tcp)
    except CairnError as exc:
        print(f"Error: {exc.message}" + (f"\n{exc.hint}" if exc.hint else ""), file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The desktop app's tests run against a real daemon: the daemon tests' fixtures, shared as they are."""

from tests.app.daemon.conftest import daemon, daemon_home, daemon_paths  # noqa: F401

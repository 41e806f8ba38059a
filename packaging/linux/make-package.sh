#!/usr/bin/env bash
# `make package`: the PyInstaller bundle (dist/cairn), the .deb and the .rpm (dist/packages), each
# installed into a throwaway root and smoke-tested with networking off; a summary at the end.
# Expects .venv with the `package` extra (the Makefile installs it). Linux only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

need() {  # COMMAND DEBIAN-PACKAGE: install it with apt-get when missing (best effort, as .ci/run does)
    command -v "$1" >/dev/null 2>&1 && return
    (apt-get update -qq && apt-get install -y -qq "$2") >/dev/null 2>&1 || true
    command -v "$1" >/dev/null 2>&1 || { echo "make package needs $1 (Debian package $2)" >&2; exit 1; }
}
need rpmbuild rpm
need objdump binutils
need dpkg-deb dpkg
need unshare util-linux

start=$(date +%s)
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller packaging/cairn.spec
echo "bundle: dist/cairn, $(du -sm dist/cairn | cut -f1) MB, built in $(( $(date +%s) - start )) s"
bash packaging/linux/build-packages.sh
bash packaging/linux/smoke-packages.sh
python3 - <<'EOF'
import json
for kind in ("deb", "rpm"):
    steps = json.load(open(f"build/smoke-{kind}.json"))["steps"]
    print(f"{kind}: cairn --version {steps['version']['median_s']} s (median of 10), "
          f"daemon ready {steps['daemon']['ready_s']} s, chat step {steps['chat']['seconds']} s")
EOF

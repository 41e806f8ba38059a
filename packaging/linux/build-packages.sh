#!/usr/bin/env bash
# Lay dist/cairn (the PyInstaller bundle) out as an installed tree, then build
# dist/packages/cairn_VERSION-1_ARCH.deb and cairn-VERSION-1.ARCH.rpm from it (both zstd-compressed:
# seconds to build, where xz took minutes; dpkg >= 1.21.18 and rpm >= 4.14 read them).
#
#   /usr/lib/cairn/                      the bundle (the `cairn` executable and _internal/)
#   /usr/bin/cairn                       -> ../lib/cairn/cairn
#   /usr/bin/cairn-purge-user-data       erases one user's data (uninstalling keeps it)
#   /usr/share/applications/cairn.desktop, /usr/share/icons/hicolor/.../cairn.{svg,png}
#   /usr/lib/systemd/user/cairn.service  the daemon as a user service (not enabled by default)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
BUNDLE=$ROOT/dist/cairn
WORK=$ROOT/build/linux
OUT=$ROOT/dist/packages
VERSION=$("$BUNDLE/cairn" --version | awk '{print $3}')
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
RPM_ARCH=$(uname -m)
# The newest glibc symbol version any bundled binary needs: the oldest system the packages run on.
GLIBC=$(find "$BUNDLE" -type f \( -name '*.so*' -o -name cairn \) -exec objdump -T {} + 2>/dev/null \
        | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)

stage() {
    local s=$WORK/stage
    rm -rf "$WORK" && mkdir -p "$s/usr/lib" "$s/usr/bin" "$s/usr/lib/systemd/user" "$s/usr/share/applications" \
        "$s/usr/share/icons/hicolor/scalable/apps" "$s/usr/share/icons/hicolor/256x256/apps" "$s/usr/share/doc/cairn"
    cp -a "$BUNDLE" "$s/usr/lib/cairn"
    ln -s ../lib/cairn/cairn "$s/usr/bin/cairn"
    install -m 755 "$HERE/cairn-purge-user-data" "$s/usr/bin/"
    install -m 644 "$HERE/cairn.desktop" "$s/usr/share/applications/"
    install -m 644 "$ROOT/packaging/icons/cairn.svg" "$s/usr/share/icons/hicolor/scalable/apps/"
    install -m 644 "$ROOT/packaging/icons/cairn.png" "$s/usr/share/icons/hicolor/256x256/apps/"
    # The unit `cairn daemon install` writes, for the installed executable (one text, in service.py).
    "$PY" -c 'import sys; from cairn.app.daemon.service import unit_text; sys.stdout.write(unit_text(sys.argv[1], None))' \
        /usr/lib/cairn/cairn > "$s/usr/lib/systemd/user/cairn.service"
    install -m 644 "$HERE/copyright" "$s/usr/share/doc/cairn/copyright"
    chmod -R u+rwX,go+rX,go-w "$s"
    chmod 644 "$s/usr/lib/systemd/user/cairn.service"
}

deb() {
    local d=$WORK/deb
    cp -al "$WORK/stage" "$d"
    mkdir -p "$d/DEBIAN"
    sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@GLIBC@/$GLIBC/" \
        -e "s/@INSTALLED_KB@/$(du -sk "$WORK/stage" | cut -f1)/" "$HERE/control.in" > "$d/DEBIAN/control"
    install -m 755 "$HERE/debian/postrm" "$d/DEBIAN/"
    (cd "$d" && find usr -type f -exec md5sum {} + > DEBIAN/md5sums)
    dpkg-deb --root-owner-group -Zzstd -z9 --build "$d" "$OUT/cairn_${VERSION}-1_${ARCH}.deb" >/dev/null
}

rpm_() {
    rpmbuild -bb --quiet --define "_topdir $WORK/rpm" --define "stage $WORK/stage" --define "version $VERSION" \
        --define "glibc $GLIBC" --define "_rpmdir $OUT" --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
        --target "$RPM_ARCH" "$HERE/cairn-rpm.spec"
}

if command -v desktop-file-validate >/dev/null 2>&1; then desktop-file-validate "$HERE/cairn.desktop"; fi
mkdir -p "$OUT"
rm -f "$OUT"/cairn[_-]*.deb "$OUT"/cairn-*.rpm
stage
echo "staged $(du -sh "$WORK/stage" | cut -f1) (glibc >= $GLIBC)"
deb
rpm_
ls -l "$OUT"

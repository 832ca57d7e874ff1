// Where `codefusion-lsp` lives. No `vscode` import: tests run this under plain node.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const SERVER_NAME = "codefusion-lsp";

export interface ServerPathInputs {
  /** The `codefusion.serverPath` setting ("" when unset). */
  setting: string;
  /** Workspace folder paths, in order. */
  workspaceFolders: string[];
  /** The extension's own directory (`clients/vscode` in a checkout of the repository). */
  extensionPath: string;
  /** `process.env.PATH`. */
  envPath: string;
  platform?: NodeJS.Platform;
}

export interface ResolvedServer {
  command: string;
  /** How it was found, for the status message: "setting", "workspace venv", "repository venv", "PATH". */
  source: string;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function venvExecutable(root: string, platform: NodeJS.Platform): string {
  return platform === "win32"
    ? path.join(root, ".venv", "Scripts", `${SERVER_NAME}.exe`)
    : path.join(root, ".venv", "bin", SERVER_NAME);
}

/** Expands `~` and `${workspaceFolder}` in a user-given path. */
export function expandPath(value: string, workspaceFolder: string | undefined): string {
  let out = value.trim();
  if (out === "~" || out.startsWith("~/")) out = path.join(os.homedir(), out.slice(1));
  if (workspaceFolder) out = out.split("${workspaceFolder}").join(workspaceFolder);
  return out;
}

/** Candidate paths in the order they are tried, with their source. */
export function serverPathCandidates(inputs: ServerPathInputs): ResolvedServer[] {
  const platform = inputs.platform ?? process.platform;
  if (inputs.setting.trim() !== "") {
    return [{ command: expandPath(inputs.setting, inputs.workspaceFolders[0]), source: "setting" }];
  }
  const out: ResolvedServer[] = inputs.workspaceFolders.map((f) => ({
    command: venvExecutable(f, platform),
    source: "workspace venv",
  }));
  // The extension inside a checkout sits at <repo>/clients/vscode.
  out.push({ command: venvExecutable(path.resolve(inputs.extensionPath, "..", ".."), platform), source: "repository venv" });
  const exe = platform === "win32" ? `${SERVER_NAME}.exe` : SERVER_NAME;
  for (const dir of inputs.envPath.split(path.delimiter).filter((d) => d !== "")) {
    out.push({ command: path.join(dir, exe), source: "PATH" });
  }
  return out;
}

/**
 * The server to start: the setting as given (even if missing, so the error names it), else the
 * first executable candidate, else undefined.
 */
export function resolveServerPath(inputs: ServerPathInputs): ResolvedServer | undefined {
  const candidates = serverPathCandidates(inputs);
  if (candidates.length === 1 && candidates[0].source === "setting") return candidates[0];
  return candidates.find((c) => isExecutable(c.command));
}

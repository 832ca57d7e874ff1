// Settings → server options. No `vscode` import: tests run this under plain node.

/** The server's options, as `codefusion-lsp` reads them (see the server README). */
export interface ServerOptions {
  numCandidates?: number;
  steps?: number;
  maxTokens?: number;
  device?: "auto" | "cpu" | "cuda";
  modelPath?: string;
  seed?: number;
  enabledLanguages?: string[];
  seedFromExamples?: boolean;
}

/** The settings section, in VS Code (`codefusion.*`) and in the server's configuration. */
export const SECTION = "codefusion";

/** Reads one setting under `codefusion.`; `vscode.workspace.getConfiguration("codefusion").get` fits. */
export type SettingGetter = (key: string) => unknown;

const DEVICES = new Set(["auto", "cpu", "cuda"]);

function integer(value: unknown, min: number): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= min ? value : undefined;
}

/**
 * Builds the server options from the user's settings. Unset (`null`, `""`) and invalid values are
 * left out so the server keeps its own defaults.
 */
export function buildServerOptions(get: SettingGetter): ServerOptions {
  const options: ServerOptions = {
    numCandidates: integer(get("numCandidates"), 1),
    steps: integer(get("steps"), 1),
    maxTokens: integer(get("maxTokens"), 1),
    seed: integer(get("seed"), 0),
  };
  const device = get("device");
  if (typeof device === "string" && DEVICES.has(device)) options.device = device as ServerOptions["device"];
  const modelPath = get("modelPath");
  if (typeof modelPath === "string" && modelPath.trim() !== "") options.modelPath = modelPath.trim();
  const seedFromExamples = get("seedFromExamples");
  if (typeof seedFromExamples === "boolean") options.seedFromExamples = seedFromExamples;
  const languages = get("enabledLanguages");
  if (Array.isArray(languages) && languages.every((l) => typeof l === "string")) {
    options.enabledLanguages = [...new Set(languages.map(serverLanguage))];
  }
  for (const key of Object.keys(options) as (keyof ServerOptions)[]) {
    if (options[key] === undefined) delete options[key];
  }
  return options;
}

/** `initializationOptions` for `initialize`: the options under the `codefusion` key. */
export function initializationOptions(options: ServerOptions): { codefusion: ServerOptions } {
  return { [SECTION]: options } as { codefusion: ServerOptions };
}

/** `settings` of `workspace/didChangeConfiguration`: the same shape as `initializationOptions`. */
export function configurationSettings(options: ServerOptions): { codefusion: ServerOptions } {
  return initializationOptions(options);
}

/** The server's name for an editor language id: shell files are all `bash` to the server. */
export function serverLanguage(id: string): string {
  return ["shellscript", "sh", "bash", "zsh"].includes(id) ? "bash" : id;
}

/** VS Code language ids the client attaches the server to (document selector). */
export function documentLanguages(options: ServerOptions): string[] {
  return (options.enabledLanguages ?? ["python", "bash"]).map((l) => (l === "bash" ? "shellscript" : l));
}

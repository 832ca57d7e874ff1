// The Python extension's selected interpreter, read from its exported API. No `vscode` import:
// tests pass fake APIs under plain node.

interface EnvironmentPath {
  path?: string;
}
interface ResolvedEnvironment {
  executable?: { uri?: { fsPath?: string } };
}
/** The parts of `ms-python.python`'s exports that we read (newer `environments`, older `settings`). */
export interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath?: (resource?: unknown) => EnvironmentPath | undefined;
    resolveEnvironment?: (env: EnvironmentPath | string) => Promise<ResolvedEnvironment | undefined>;
  };
  settings?: {
    getExecutionDetails?: (resource?: unknown) => { execCommand?: string[] } | undefined;
  };
}

export const PYTHON_EXTENSION_ID = "ms-python.python";

/** The interpreter's executable path for `resource`, or undefined when the API tells none. */
export async function selectedInterpreter(api: PythonExtensionApi | undefined, resource?: unknown): Promise<string | undefined> {
  const envs = api?.environments;
  const active = envs?.getActiveEnvironmentPath?.(resource);
  if (active) {
    const resolved = await envs?.resolveEnvironment?.(active);
    return resolved?.executable?.uri?.fsPath ?? active.path;
  }
  return api?.settings?.getExecutionDetails?.(resource)?.execCommand?.[0];
}

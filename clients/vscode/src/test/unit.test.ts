// The extension's pure modules: settings → options, server path, request builders, answer readers.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { buildServerOptions, configurationSettings, documentLanguages, initializationOptions } from "../options";
import {
  actionPreview,
  cfApplyCommand,
  cfPickItem,
  cfSuggestCommand,
  codeActionParams,
  completionText,
  GENERATE_KIND,
  generateActions,
  promptLine,
  readCfApply,
  readCfSuggest,
  statusBar,
} from "../protocol";
import { PythonExtensionApi, selectedInterpreter } from "../pythonApi";
import { discoverServer, findOnPath, pythonHasServerModule } from "../serverPath";

const getter = (values: Record<string, unknown>) => (key: string) => values[key];

test("options: defaults of the contributed settings give the server's defaults", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const props = pkg.contributes.configuration.properties as Record<string, { default: unknown }>;
  const defaults = (key: string) => props[`codefusion.${key}`]?.default;
  assert.deepEqual(buildServerOptions(defaults), {
    numCandidates: 5,
    device: "auto",
    enabledLanguages: ["python", "bash"],
    seedFromExamples: true,
  });
});

test("options: every server option has a setting", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const props = Object.keys(pkg.contributes.configuration.properties);
  for (const key of ["numCandidates", "steps", "maxTokens", "device", "modelPath", "seed", "enabledLanguages", "seedFromExamples", "serverPath"]) {
    assert.ok(props.includes(`codefusion.${key}`), key);
  }
});

test("options: set values pass, invalid ones are dropped", () => {
  const opts = buildServerOptions(
    getter({ numCandidates: 3, steps: 20, maxTokens: 0, device: "tpu", modelPath: " /m ", seed: 7, enabledLanguages: "python" }),
  );
  assert.deepEqual(opts, { numCandidates: 3, steps: 20, seed: 7, modelPath: "/m" });
  assert.deepEqual(buildServerOptions(getter({ seedFromExamples: false })), { seedFromExamples: false });
  assert.deepEqual(buildServerOptions(getter({ seedFromExamples: "no" })), {});
  assert.deepEqual(initializationOptions(opts), { codefusion: opts });
  assert.deepEqual(configurationSettings(opts), { codefusion: opts });
  assert.deepEqual(documentLanguages(opts), ["python", "shellscript"]);
  assert.deepEqual(documentLanguages({ enabledLanguages: ["python"] }), ["python"]);
  assert.deepEqual(buildServerOptions(getter({ enabledLanguages: ["shellscript", "bash", "python"] })), {
    enabledLanguages: ["bash", "python"],
  });
});

function scratch(): { tmp: string; mk: (file: string) => string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cf-path-"));
  const mk = (file: string) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "#!/bin/sh\n", { mode: 0o755 });
    return file;
  };
  return { tmp, mk };
}

test("serverPath: setting, then PATH, then the Python extension's interpreter, then a workspace venv", async () => {
  const { tmp, mk } = scratch();
  const ws = path.join(tmp, "ws");
  const bin = path.join(tmp, "bin");
  const python = path.join(tmp, "env", "bin", "python");
  const asked: string[] = [];
  let runsModule = false;
  const inputs = {
    setting: "",
    workspaceFolders: [ws],
    envPath: `${path.join(tmp, "empty")}:${bin}`,
    pythonInterpreter: async () => python,
    hasServerModule: async (p: string) => (asked.push(p), runsModule),
    platform: "linux" as const,
  };
  // nothing anywhere: one problem that names the interpreter and the install command for it
  const none = await discoverServer(inputs);
  assert.equal(none.server, undefined);
  assert.match(none.problem ?? "", /not installed.*not on PATH.*has no codefusion\.server/);
  assert.equal(none.server ? "" : none.installCommand, `"${python}" -m pip install codefusion-lsp`);
  assert.deepEqual(asked, [python]);
  mk(path.join(ws, ".venv", "bin", "codefusion-lsp"));
  assert.equal((await discoverServer(inputs)).server?.source, "workspace venv");
  mk(path.join(tmp, "env", "bin", "codefusion-lsp"));
  assert.deepEqual((await discoverServer(inputs)).server, {
    command: path.join(tmp, "env", "bin", "codefusion-lsp"), args: [], source: "Python interpreter",
  });
  runsModule = true;
  assert.deepEqual((await discoverServer(inputs)).server, { command: python, args: ["-m", "codefusion.server"], source: "Python interpreter" });
  mk(path.join(bin, "codefusion-lsp"));
  assert.deepEqual((await discoverServer(inputs)).server, { command: path.join(bin, "codefusion-lsp"), args: [], source: "PATH" });
  const set = await discoverServer({ ...inputs, setting: "${workspaceFolder}/.venv/bin/codefusion-lsp" });
  assert.deepEqual(set.server, { command: path.join(ws, ".venv", "bin", "codefusion-lsp"), args: [], source: "setting" });
  // a setting that points nowhere is reported, not silently replaced by PATH
  const wrong = await discoverServer({ ...inputs, setting: "~/nowhere/codefusion-lsp" });
  assert.match(wrong.problem ?? "", /codefusion\.serverPath is "~\/nowhere\/codefusion-lsp", which is not an executable/);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("serverPath: no Python extension, or a failing one, still ends in one clear problem", async () => {
  const { tmp } = scratch();
  for (const pythonInterpreter of [undefined, async () => undefined, async () => { throw new Error("boom"); }]) {
    const found = await discoverServer({ setting: "", workspaceFolders: [tmp], envPath: tmp, pythonInterpreter, platform: "linux" });
    assert.equal(found.server, undefined);
    assert.match(found.problem ?? "", /no Python interpreter is selected.*pip install codefusion-lsp$/);
  }
  assert.equal(findOnPath(`${tmp}:/nonexistent`, "linux"), undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("serverPath: the real probe tells an interpreter with the server module from one without", async () => {
  const venvPython = path.resolve(__dirname, "..", "..", "..", "..", ".venv", "bin", "python");
  const systemPython = ["/usr/bin/python3", "/usr/local/bin/python3"].find((p) => fs.existsSync(p));
  assert.ok(systemPython, "no system python3");
  assert.equal(await pythonHasServerModule(systemPython), false);
  assert.equal(await pythonHasServerModule(path.join(os.tmpdir(), "no-such-python")), false);
  if (fs.existsSync(venvPython)) {
    // `python -m codefusion.server` needs server/__main__.py; report what this checkout has.
    const has = await pythonHasServerModule(venvPython);
    const mainFile = path.resolve(__dirname, "..", "..", "..", "..", "server", "__main__.py");
    assert.equal(has, fs.existsSync(mainFile));
  }
});

test("pythonApi: the interpreter from the environments API, the older settings API, or none", async () => {
  const fsPath = "/envs/a/bin/python";
  const envApi: PythonExtensionApi = {
    environments: {
      getActiveEnvironmentPath: () => ({ path: "/envs/a" }),
      resolveEnvironment: async () => ({ executable: { uri: { fsPath } } }),
    },
  };
  assert.equal(await selectedInterpreter(envApi), fsPath);
  const unresolved: PythonExtensionApi = { environments: { getActiveEnvironmentPath: () => ({ path: "/usr/bin/python3" }), resolveEnvironment: async () => undefined } };
  assert.equal(await selectedInterpreter(unresolved), "/usr/bin/python3");
  assert.equal(await selectedInterpreter({ settings: { getExecutionDetails: () => ({ execCommand: ["/old/python"] }) } }), "/old/python");
  assert.equal(await selectedInterpreter(undefined), undefined);
  assert.equal(await selectedInterpreter({}), undefined);
});

test("package.json: a real publisher, and every setting in the README's table", () => {
  const root = path.join(__dirname, "..", "..");
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  assert.ok(pkg.publisher && !/^(publisher|codefusion|your-?name|todo|example)$/i.test(pkg.publisher), pkg.publisher);
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  for (const key of Object.keys(pkg.contributes.configuration.properties)) {
    assert.ok(readme.includes(`| \`${key}\` |`), `${key} missing from the README's settings table`);
  }
});

test("protocol: the prompt line is the comment at or just above the cursor", () => {
  const lines = ["import os", "# read a file", "", "x = 1"];
  assert.equal(promptLine(lines, 1), 1);
  assert.equal(promptLine(lines, 2), 1);
  assert.equal(promptLine(lines, 3), 3);
  const p = codeActionParams("file:///a.py", 1, 13);
  assert.deepEqual(p.range, { start: { line: 1, character: 0 }, end: { line: 1, character: 13 } });
  assert.deepEqual(p.context.only, [GENERATE_KIND]);
});

test("protocol: generate actions are picked by kind or title, commands ignored", () => {
  const edit = { changes: { "file:///a.py": [{ range: { start: { line: 2, character: 0 }, end: { line: 2, character: 0 } }, newText: "x = 1\n" }] } };
  const actions = generateActions([
    { title: "Organize imports", kind: "source.organizeImports" },
    { title: "Generate from comment: x = 1", kind: GENERATE_KIND, edit },
    { title: "Generate from comment: y", kind: "refactor.rewrite" },
    { title: "a command", command: "x" },
  ]);
  assert.deepEqual(actions.map((a) => a.title), ["Generate from comment: x = 1", "Generate from comment: y"]);
  assert.equal(actionPreview(actions[0]), "x = 1\n");
  assert.equal(actionPreview(actions[1]), "");
  assert.equal(completionText({ label: "a", insertText: "b" }), "b");
});

test("protocol: CF commands carry only the given fields", () => {
  assert.deepEqual(cfSuggestCommand({ uri: "file:///b.xlsx", sheet: "", range: "B2:B9" }, "above 5", 3), {
    command: "codefusion.cf.suggest",
    arguments: [{ uri: "file:///b.xlsx", range: "B2:B9", description: "above 5", k: 3 }],
  });
  assert.deepEqual(cfApplyCommand({ uri: "file:///b.xlsx", sheet: "S" }, "GreaterThan(5)").arguments, [
    { uri: "file:///b.xlsx", sheet: "S", rule: "GreaterThan(5)" },
  ]);
  const wire = {
    sheet: "S",
    cellRange: "B2:B9",
    candidates: [
      { rule: "GreaterThan(5)", score: null, count: 3, total: 8, addresses: ["B3", "B5", "B9"], source: "wording", notes: ["the prompt says 'above 5'"] },
      { rule: "Duplicate()", score: -1, count: 2, total: 8, addresses: ["B2", "B4"], source: "model", notes: [] },
    ],
    rejected: [],
  };
  assert.deepEqual(readCfSuggest(wire), {
    sheet: "S",
    range: "B2:B9",
    candidates: [
      { rule: "GreaterThan(5)", score: null, count: 3, cells: ["B3", "B5", "B9"], notes: ["the prompt says 'above 5'"] },
      { rule: "Duplicate()", score: -1, count: 2, cells: ["B2", "B4"], notes: [] },
    ],
  });
  assert.equal(readCfSuggest({ sheet: "S", cell_range: "B2:B9", candidates: [] }).range, "", "one name per field: cellRange");
  assert.throws(() => readCfSuggest(null), /no answer/);
  const applied = { path: "/b.xlsx", sheet: "S", cellRange: "B2:B9", rule: "Duplicate()", kind: "expression", formula: [], backup: null };
  assert.deepEqual(readCfApply(applied), {
    written: true, path: "/b.xlsx", sheet: "S", range: "B2:B9", rule: "Duplicate()", backup: null,
  });
  const item = cfPickItem({ rule: "GreaterThan(5)", score: -1.5, count: 10, cells: ["B2", "B3", "B4"], notes: [] }, 2);
  assert.equal(item.detail, "highlights 10 cells: B2, B3, … (+8)");
  const worded = cfPickItem({ rule: "GreaterThan(5)", score: null, count: 0, cells: [], notes: ["the prompt says 'over 5'"] });
  assert.equal(worded.description, "from the wording");
  assert.equal(worded.detail, "highlights no cells · the prompt says 'over 5'");
});

test("protocol: status bar states", () => {
  assert.equal(statusBar(undefined).state, "loading");
  assert.equal(statusBar({ loading: true, loaded: false }).state, "loading");
  assert.equal(statusBar({ loaded: false, loading: false, error: "no weights" }).state, "error");
  const ready = statusBar({ loaded: true, loading: false, device: "cpu", parameters: 12_300_000, loadSeconds: 1.2 });
  assert.equal(ready.text, "$(check) CodeFusion (cpu)");
  assert.match(ready.tooltip, /parameters: 12\.3M/);
  assert.equal(statusBar({ loaded: true }, "crashed").state, "error");
  assert.equal(statusBar({ state: "loading", error: null }).state, "loading");
  assert.equal(statusBar({ state: "ready", device: "cuda:0" }).text, "$(check) CodeFusion (cuda:0)");
  assert.equal(statusBar({ state: "failed", error: null }).state, "error");
});

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
import { resolveServerPath, serverPathCandidates } from "../serverPath";

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

test("serverPath: setting, then workspace venv, then repository venv, then PATH", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cf-path-"));
  const ws = path.join(tmp, "ws");
  const repo = path.join(tmp, "repo");
  const ext = path.join(repo, "clients", "vscode");
  const bin = path.join(tmp, "bin");
  const mk = (file: string) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "#!/bin/sh\n", { mode: 0o755 });
  };
  const inputs = { setting: "", workspaceFolders: [ws], extensionPath: ext, envPath: bin, platform: "linux" as const };
  assert.equal(resolveServerPath(inputs), undefined);
  mk(path.join(bin, "codefusion-lsp"));
  assert.deepEqual(resolveServerPath(inputs), { command: path.join(bin, "codefusion-lsp"), source: "PATH" });
  mk(path.join(repo, ".venv", "bin", "codefusion-lsp"));
  assert.equal(resolveServerPath(inputs)?.source, "repository venv");
  mk(path.join(ws, ".venv", "bin", "codefusion-lsp"));
  assert.equal(resolveServerPath(inputs)?.command, path.join(ws, ".venv", "bin", "codefusion-lsp"));
  const set = resolveServerPath({ ...inputs, setting: "${workspaceFolder}/x/codefusion-lsp" });
  assert.deepEqual(set, { command: path.join(ws, "x", "codefusion-lsp"), source: "setting" });
  assert.equal(serverPathCandidates({ ...inputs, platform: "win32" })[0].command, path.join(ws, ".venv", "Scripts", "codefusion-lsp.exe"));
  fs.rmSync(tmp, { recursive: true, force: true });
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
  assert.deepEqual(
    readCfSuggest({ sheet: "S", cell_range: "B2:B9", candidates: [{ rule: "Duplicate()", score: -1, count: 2, total: 8, addresses: ["B2", "B4"] }] }),
    { sheet: "S", range: "B2:B9", candidates: [{ rule: "Duplicate()", score: -1, count: 2, cells: ["B2", "B4"] }] },
  );
  assert.throws(() => readCfSuggest({ error: "model not ready" }), /model not ready/);
  assert.deepEqual(readCfApply({ path: "/b.xlsx", sheet: "S", cell_range: "B2:B9", rule: "Duplicate()", backup: null }), {
    written: true, path: "/b.xlsx", sheet: "S", range: "B2:B9", rule: "Duplicate()", backup: null,
  });
  const item = cfPickItem({ rule: "GreaterThan(5)", score: -1.5, count: 10, cells: ["B2", "B3", "B4"] }, 2);
  assert.equal(item.detail, "highlights 10 cells: B2, B3, … (+8)");
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

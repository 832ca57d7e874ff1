// End to end: the real `codefusion-lsp` driven over stdio with the extension's own request builders
// and initializationOptions. Needs the project's .venv (`make setup`). Env: CODEFUSION_LSP (server),
// CODEFUSION_TEST_MODEL (`--model DIR`; default: the shipped model, else a tiny untrained one with
// the quality checks skipped), CODEFUSION_TEST_PROTOCOL_ONLY=1 (skip quality checks).
import assert from "node:assert/strict";
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import {
  CodeAction,
  CodeActionRequest,
  CodeActionResolveRequest,
  CompletionRequest,
  createProtocolConnection,
  DidChangeConfigurationNotification,
  DidOpenTextDocumentNotification,
  ExecuteCommandRequest,
  InitializeRequest,
  InitializeResult,
  InlineCompletionRequest,
  Position,
  ProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  TextEdit,
} from "vscode-languageserver-protocol/node";
import { buildServerOptions, configurationSettings, initializationOptions } from "../options";
import {
  actionPreview,
  cfApplyCommand,
  cfSuggestCommand,
  clientCapabilities,
  codeActionParams,
  completionItems,
  completionParams,
  completionText,
  generateActions,
  inlineCompletionItems,
  inlineCompletionParams,
  isReady,
  loadError,
  promptLine,
  readCfApply,
  readCfSuggest,
  ServerStatus,
  statusCommand,
} from "../protocol";

const REPO = path.resolve(__dirname, "..", "..", "..", "..");
const PYTHON = path.join(REPO, ".venv", "bin", "python");
const SERVER = process.env.CODEFUSION_LSP ?? path.join(REPO, ".venv", "bin", "codefusion-lsp");
const LOAD_TIMEOUT_MS = Number(process.env.CODEFUSION_LOAD_TIMEOUT_MS ?? 300_000);
const REQUEST_TIMEOUT_MS = 180_000;
const SHIPPED_WEIGHTS = path.join(REPO, "models", "codefusion", "model.safetensors");
const GIVEN_MODEL = process.env.CODEFUSION_TEST_MODEL;
// No model given and none shipped yet: a tiny untrained model (as the server's own protocol tests use).
const USE_TINY = !GIVEN_MODEL && !fs.existsSync(SHIPPED_WEIGHTS);
// With an untrained model only protocol facts can be asserted, not that the generated code parses.
const PROTOCOL_ONLY = USE_TINY || process.env.CODEFUSION_TEST_PROTOCOL_ONLY === "1";
const quality = {
  skip: !PROTOCOL_ONLY
    ? false
    : USE_TINY
      ? `shipped model not present yet (${SHIPPED_WEIGHTS}); ran against a tiny untrained model`
      : "CODEFUSION_TEST_PROTOCOL_ONLY=1",
};

// The settings a user might have; the extension turns them into the server options the same way.
const SETTINGS: Record<string, unknown> = {
  numCandidates: 3,
  steps: null,
  maxTokens: null,
  device: "cpu",
  modelPath: "",
  seed: 0,
  enabledLanguages: ["python", "bash"],
};
const OPTIONS = buildServerOptions((key) => SETTINGS[key]);

function python(code: string, input = ""): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, ["-c", code], { input, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function parsesAsPython(source: string): boolean {
  return python("import ast, sys; ast.parse(sys.stdin.read())", source).status === 0;
}

/** Applies single-document TextEdits to a text (LSP positions are UTF-16, as JS strings are). */
function applyEdits(text: string, edits: TextEdit[]): string {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const offset = (p: Position) => Math.min((lineStarts[p.line] ?? text.length) + p.character, text.length);
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  for (const e of sorted) text = text.slice(0, offset(e.range.start)) + e.newText + text.slice(offset(e.range.end));
  return text;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms).unref()),
  ]);
}

describe("codefusion-lsp through the extension's protocol code", { timeout: LOAD_TIMEOUT_MS + 10 * REQUEST_TIMEOUT_MS }, () => {
  let proc: ChildProcessWithoutNullStreams;
  let conn: ProtocolConnection;
  let init: InitializeResult;
  let stderr = "";
  const progressEnded: unknown[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "codefusion-vscode-"));

  const request = <R>(method: string, params: unknown, what = method) =>
    withTimeout(conn.sendRequest(method, params) as Promise<R>, REQUEST_TIMEOUT_MS, what);
  const status = () => request<ServerStatus>(ExecuteCommandRequest.method, statusCommand(), "status");

  async function open(name: string, languageId: string, text: string): Promise<string> {
    const file = path.join(tmp, name);
    fs.writeFileSync(file, text);
    const uri = pathToFileURL(file).toString();
    await conn.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId, version: 1, text },
    });
    return uri;
  }

  before(async () => {
    assert.ok(fs.existsSync(SERVER), `${SERVER} missing: run \`make setup\` in ${REPO}`);
    let model = GIVEN_MODEL;
    if (USE_TINY) {
      model = path.join(tmp, "tiny-model");
      const made = python(`from codefusion.model.testing import make_tiny_model; make_tiny_model(${JSON.stringify(model)})`);
      assert.equal(made.status, 0, made.stderr);
    }
    if (PROTOCOL_ONLY) console.error(`note: protocol-only run (${quality.skip}): generated code is not checked to parse`);
    const args = model ? ["--model", model] : [];
    proc = spawn(SERVER, args, { cwd: tmp, stdio: "pipe" });
    proc.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    conn = createProtocolConnection(new StreamMessageReader(proc.stdout), new StreamMessageWriter(proc.stdin));
    conn.onRequest("window/workDoneProgress/create", () => null);
    conn.onRequest("client/registerCapability", () => null);
    conn.onRequest("window/showMessageRequest", () => null);
    conn.onRequest("workspace/configuration", (p: { items: { section?: string }[] }) =>
      p.items.map((i) => (i.section === "codefusion" ? OPTIONS : null)),
    );
    conn.onNotification("$/progress", (p: { value?: { kind?: string } }) => {
      if (p.value?.kind === "end") progressEnded.push(p);
    });
    conn.listen();
    init = await request<InitializeResult>(
      InitializeRequest.method,
      {
        processId: process.pid,
        clientInfo: { name: "codefusion-vscode-test" },
        rootUri: pathToFileURL(tmp).toString(),
        workspaceFolders: [{ uri: pathToFileURL(tmp).toString(), name: "tmp" }],
        capabilities: clientCapabilities(),
        initializationOptions: initializationOptions(OPTIONS),
      },
      "initialize",
    );
    await conn.sendNotification("initialized", {});
  });

  after(async () => {
    if (conn) {
      try {
        await withTimeout(conn.sendRequest("shutdown"), 10_000, "shutdown");
        await conn.sendNotification("exit");
      } catch {
        // the process is killed below anyway
      }
      conn.dispose();
    }
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once("exit", r));
      const timer = setTimeout(() => proc.kill(), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("initialize advertises completion, inline completion, code actions and the commands", () => {
    const caps = init.capabilities;
    assert.ok(caps.completionProvider, "completionProvider");
    assert.ok(caps.inlineCompletionProvider, "inlineCompletionProvider");
    assert.ok(caps.codeActionProvider, "codeActionProvider");
    const commands = caps.executeCommandProvider?.commands ?? [];
    for (const c of ["codefusion.status", "codefusion.cf.suggest", "codefusion.cf.apply"]) assert.ok(commands.includes(c), c);
  });

  test("the model loads (work-done progress ends, status says loaded)", { timeout: LOAD_TIMEOUT_MS }, async () => {
    const deadline = Date.now() + LOAD_TIMEOUT_MS;
    let s = await status();
    while (!isReady(s) && !loadError(s) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      s = await status();
    }
    assert.equal(loadError(s), undefined, `model failed to load: ${JSON.stringify(s)}\n${stderr}`);
    assert.ok(isReady(s), `model not loaded after ${LOAD_TIMEOUT_MS} ms: ${JSON.stringify(s)}\n${stderr}`);
    assert.equal(s.device, "cpu");
    assert.ok(typeof s.parameters === "number" && s.parameters > 0, `parameters ${s.parameters}`);
    // the end notification follows the engine's ready state (it is sent once the load thread is joined)
    while (progressEnded.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(progressEnded.length >= 1, "no $/progress end notification");
  });

  const PY = "import json\n\n# read a json file and return the parsed data\n\n";
  const PY_CURSOR = { line: 3, character: 0 };

  test("completion after a Python comment: items", async () => {
    const uri = await open("complete.py", "python", PY);
    const items = completionItems(await request(CompletionRequest.method, completionParams(uri, PY_CURSOR)));
    assert.ok(items.length >= 1, "no completion items");
    assert.ok(items.length <= OPTIONS.numCandidates!, `${items.length} items > numCandidates`);
    for (const item of items) assert.ok(completionText(item).trim().length > 0, "empty completion");
  });

  // Python candidates parse because the server seeds them from the nearest training examples (the
  // default seedFromExamples; the model alone does not parse yet: tests/test_lsp_quality.py).
  test("completion after a Python comment: the inserted code parses", quality, async () => {
    const uri = await open("complete-parse.py", "python", PY);
    const items = completionItems(await request(CompletionRequest.method, completionParams(uri, PY_CURSOR)));
    assert.ok(items.length >= 1, "no completion items");
    for (const item of items) {
      const code = completionText(item);
      const edit = item.textEdit && "range" in item.textEdit ? item.textEdit : TextEdit.insert(PY_CURSOR, code);
      const after = applyEdits(PY, [edit]);
      assert.ok(parsesAsPython(after), `does not parse:\n${after}`);
    }
  });

  test("inline completion after a Python comment", async () => {
    const uri = await open("inline.py", "python", PY);
    const items = inlineCompletionItems(await request(InlineCompletionRequest.method, inlineCompletionParams(uri, PY_CURSOR)));
    assert.ok(items.length >= 1, "no inline items");
    for (const item of items) {
      const text = typeof item.insertText === "string" ? item.insertText : item.insertText.value;
      assert.ok(text.trim().length > 0, "empty inline item");
    }
  });

  test("completion after a Bash comment", async () => {
    const SH = "#!/bin/bash\n# count the lines of every .txt file in the current directory\n\n";
    const uri = await open("complete.sh", "shellscript", SH);
    const items = completionItems(await request(CompletionRequest.method, completionParams(uri, { line: 2, character: 0 })));
    assert.ok(items.length >= 1, "no bash completion items");
    for (const item of items) assert.ok(completionText(item).trim().length > 0);
  });

  test("Generate from comment: the action's edit inserts code (that parses with a trained model)", async () => {
    const uri = await open("action.py", "python", PY);
    const lines = PY.split("\n");
    const line = promptLine(lines, 3); // cursor on the blank line under the comment
    assert.equal(line, 2);
    const result = await request<CodeAction[]>(CodeActionRequest.method, codeActionParams(uri, line, lines[line].length));
    const actions = generateActions(result);
    assert.ok(actions.length >= 1, `no Generate actions in ${JSON.stringify(result)}`);
    let action = actions[0];
    if (!action.edit) action = await request<CodeAction>(CodeActionResolveRequest.method, action, "codeAction/resolve");
    assert.ok(action.edit, "resolved action has no edit");
    const edits = action.edit.changes?.[uri] ?? [];
    assert.ok(edits.length >= 1 || (action.edit.documentChanges ?? []).length >= 1, "edit changes nothing");
    if (edits.length > 0) {
      const after = applyEdits(PY, edits);
      assert.notEqual(after, PY);
      assert.ok(after.startsWith("import json\n\n# read a json file"), "the comment was changed");
      if (!PROTOCOL_ONLY) assert.ok(parsesAsPython(after), `edited file does not parse:\n${after}`);
    }
    assert.ok(actionPreview(action).trim().length > 0);
  });

  test("configuration change is accepted and the server keeps answering", async () => {
    await conn.sendNotification(DidChangeConfigurationNotification.type, {
      settings: configurationSettings({ ...OPTIONS, numCandidates: 2 }),
    });
    const uri = await open("config.py", "python", PY);
    const items = completionItems(await request(CompletionRequest.method, completionParams(uri, PY_CURSOR)));
    assert.ok(items.length >= 1 && items.length <= 2, `${items.length} items with numCandidates 2`);
    const s = await status();
    assert.ok(typeof s.lastLatencyMs === "number" && s.lastLatencyMs > 0, `lastLatencyMs ${s.lastLatencyMs}`);
  });

  const SALES = [120, 640, 480, 910, 75, 505, 300, 820, 50, 700]; // B2:B11
  /** The cells of SALES a predicate picks, as addresses. */
  const salesWhere = (pick: (v: number) => boolean): string[] =>
    SALES.flatMap((v, i) => (pick(v) ? [`B${i + 2}`] : []));

  function makeBook(name: string): { book: string; target: { uri: string; sheet: string; range: string } } {
    const book = path.join(tmp, name);
    const made = python(
      `import openpyxl\nwb = openpyxl.Workbook(); ws = wb.active; ws.title = 'Sales'\n` +
        "ws.append(['Region', 'Sales'])\n" +
        `for i, v in enumerate(${JSON.stringify(SALES)}): ws.append([f'R{i}', v])\n` +
        `wb.save(${JSON.stringify(book)})`,
    );
    assert.equal(made.status, 0, made.stderr);
    return { book, target: { uri: pathToFileURL(book).toString(), sheet: "Sales", range: "B2:B11" } };
  }

  /** The conditional-formatting ranges and rule count openpyxl reads back. */
  function rulesIn(book: string): string {
    const read = python(
      `import openpyxl; ws = openpyxl.load_workbook(${JSON.stringify(book)})['Sales']\n` +
        "print(sum(len(r.rules) for r in ws.conditional_formatting), [str(r.sqref) for r in ws.conditional_formatting])",
    );
    assert.equal(read.status, 0, read.stderr);
    return read.stdout.trim();
  }

  test("CF suggest answers with the target and well-formed candidates", async () => {
    const { target } = makeBook("shape.xlsx");
    const suggested = readCfSuggest(
      await request(ExecuteCommandRequest.method, cfSuggestCommand(target, "highlight sales above 500", 5), "cf.suggest"),
    );
    assert.equal(suggested.sheet, "Sales", JSON.stringify(suggested));
    assert.equal(suggested.range, "B2:B11");
    assert.ok(suggested.candidates.length >= 1 && suggested.candidates.length <= 5, JSON.stringify(suggested));
    // "above 500" is read from the wording whatever the model writes: it leads and shows the cells over 500
    const top = suggested.candidates[0];
    assert.equal(top.rule, "GreaterThan(500)");
    assert.deepEqual(top.cells, salesWhere((v) => v > 500));
    assert.ok(top.notes.some((n) => n.includes("above 500")), JSON.stringify(top.notes));
    for (const c of suggested.candidates) {
      assert.ok(c.rule.length > 0);
      assert.ok(c.count >= c.cells.length && c.count <= 10, `count ${c.count}, cells ${c.cells}`);
      for (const cell of c.cells) assert.match(cell, /^B([2-9]|1[01])$/);
    }
  });

  test("CF apply writes a rule into a real .xlsx and keeps a backup", async () => {
    const { book, target } = makeBook("apply.xlsx");
    const before = fs.readFileSync(book);
    const applied = readCfApply(
      await request(ExecuteCommandRequest.method, cfApplyCommand(target, "GreaterThan(500)"), "cf.apply"),
    );
    assert.equal(applied.written, true);
    assert.equal(path.resolve(applied.path), path.resolve(book));
    assert.equal(applied.sheet, "Sales");
    assert.equal(applied.range, "B2:B11");
    assert.match(applied.rule, /^greaterthan\(500\)$/i);
    if (applied.backup) assert.deepEqual(fs.readFileSync(applied.backup), before, "backup differs from the original");
    assert.equal(rulesIn(book), "1 ['B2:B11']");
  });

  test("CF suggest → pick the top candidate → apply (the command's flow)", quality, async () => {
    const { book, target } = makeBook("flow.xlsx");
    const suggested = readCfSuggest(
      await request(ExecuteCommandRequest.method, cfSuggestCommand(target, "highlight sales above 500", 5), "cf.suggest"),
    );
    assert.ok(suggested.candidates.length >= 1, "no CF candidates");
    const top = suggested.candidates[0];
    assert.ok(top.count >= 1 && top.count < SALES.length, `top rule ${top.rule} highlights ${top.count} cells`);
    const applied = readCfApply(
      await request(ExecuteCommandRequest.method, cfApplyCommand({ ...target, sheet: suggested.sheet, range: suggested.range }, top.rule), "cf.apply"),
    );
    assert.equal(applied.written, true);
    assert.equal(applied.rule, top.rule);
    assert.equal(rulesIn(book), "1 ['B2:B11']");
    assert.deepEqual(top.cells, salesWhere((v) => v > 500), `${top.rule} is not what "above 500" asks for`);
  });
});

// Wires the pure modules (options, serverPath, protocol) to VS Code; the server does the work.
import * as vscode from "vscode";
import {
  CodeAction,
  CodeActionRequest,
  CodeActionResolveRequest,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions as Executable,
  State,
} from "vscode-languageclient/node";
import { buildServerOptions, configurationSettings, documentLanguages, initializationOptions, SECTION } from "./options";
import {
  actionPreview,
  cfAppliedMessage,
  cfApplyCommand,
  cfPickItem,
  cfSuggestCommand,
  codeActionParams,
  formatStatus,
  generateActions,
  isReady,
  loadError,
  promptLine,
  readCfApply,
  readCfSuggest,
  ServerStatus,
  statusBar,
  statusCommand,
} from "./protocol";
import { PYTHON_EXTENSION_ID, PythonExtensionApi, selectedInterpreter } from "./pythonApi";
import { discoverServer, installCommand } from "./serverPath";

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem;
let output: vscode.LogOutputChannel;
let pollTimer: NodeJS.Timeout | undefined;

function settings() {
  const config = vscode.workspace.getConfiguration(SECTION);
  return { config, options: buildServerOptions((key) => config.get(key)) };
}

function showBar(status: ServerStatus | undefined, failed?: string): void {
  const bar = statusBar(status, failed);
  statusItem.text = bar.text;
  statusItem.tooltip = bar.tooltip;
  statusItem.backgroundColor = bar.state === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  statusItem.show();
}

async function queryStatus(): Promise<ServerStatus | undefined> {
  if (!client || client.state !== State.Running) return undefined;
  return (await client.sendRequest(ExecuteCommandRequest.type, statusCommand())) as ServerStatus;
}

/** Polls `codefusion.status` until the model is loaded or failed (the server answers at once). */
function pollStatus(): void {
  if (pollTimer) clearTimeout(pollTimer);
  const tick = async () => {
    try {
      const status = await queryStatus();
      showBar(status);
      if (!isReady(status) && !loadError(status)) pollTimer = setTimeout(tick, 1500);
    } catch (err) {
      showBar(undefined, `CodeFusion: ${String(err)}`);
    }
  };
  void tick();
}

/** The interpreter the Python extension selected for `folder`, if that extension is installed. */
async function pythonInterpreter(folder: vscode.Uri | undefined): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
  if (!ext) return undefined;
  const api = ext.isActive ? ext.exports : await ext.activate();
  return selectedInterpreter(api, folder);
}

/** The one notification when no server was found: the reason, the setting, the install command. */
function reportMissingServer(problem: string, install: string): void {
  showBar(undefined, problem);
  output.error(problem);
  // Not awaited: activation must not wait for the user to answer.
  void vscode.window.showErrorMessage(problem, "Open setting", "Copy install command").then((choice) => {
    if (choice === "Open setting") {
      void vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.serverPath`);
    } else if (choice === "Copy install command") {
      void vscode.env.clipboard.writeText(install);
    }
  });
}

async function startClient(): Promise<void> {
  const { config, options } = settings();
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === "file");
  const found = await discoverServer({
    setting: config.get<string>("serverPath") ?? "",
    workspaceFolders: folders.map((f) => f.uri.fsPath),
    envPath: process.env.PATH ?? "",
    pythonInterpreter: () => pythonInterpreter(folders[0]?.uri),
  });
  if (!found.server) {
    reportMissingServer(found.problem, found.installCommand);
    return;
  }
  const server = found.server;
  output.info(`starting ${[server.command, ...server.args].join(" ")} (from ${server.source})`);
  // No `transport`: TransportKind.stdio would append `--stdio`, which codefusion-lsp rejects; stdio is the default.
  const executable: Executable = { command: server.command, args: server.args };
  const clientOptions: LanguageClientOptions = {
    documentSelector: documentLanguages(options).flatMap((language) => [
      { language, scheme: "file" },
      { language, scheme: "untitled" },
    ]),
    initializationOptions: initializationOptions(options),
    outputChannel: output,
    middleware: {
      workspace: {
        // Answer configuration pulls with the same options we send, not the raw settings.
        configuration: async (params, token, next) => {
          const raw = await next(params, token);
          if (!Array.isArray(raw)) return raw;
          return params.items.map((item, i) => (item.section === SECTION ? settings().options : raw[i]));
        },
      },
    },
  };
  client = new LanguageClient("codefusion", "CodeFusion", executable, clientOptions);
  client.onDidChangeState((e) => {
    if (e.newState === State.Stopped) showBar(undefined, "CodeFusion: server stopped (run “CodeFusion: Restart server”)");
  });
  showBar(undefined);
  try {
    await client.start();
  } catch (err) {
    showBar(undefined, `CodeFusion: server failed to start: ${String(err)}`);
    return;
  }
  pollStatus();
}

async function stopClient(): Promise<void> {
  if (pollTimer) clearTimeout(pollTimer);
  const old = client;
  client = undefined;
  if (old) {
    try {
      await old.stop();
    } catch (err) {
      output.warn(`stopping the server: ${String(err)}`);
    }
  }
}

function requireClient(): LanguageClient | undefined {
  if (client && client.state === State.Running) return client;
  void vscode.window.showWarningMessage("CodeFusion: the server is not running (see the CodeFusion output).");
  return undefined;
}

async function generateFromComment(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const c = requireClient();
  if (!editor || !c) return;
  const doc = editor.document;
  const lines = Array.from({ length: doc.lineCount }, (_, i) => doc.lineAt(i).text);
  const line = promptLine(lines, editor.selection.active.line);
  const params = codeActionParams(c.code2ProtocolConverter.asUri(doc.uri), line, lines[line].length);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "CodeFusion: generating…", cancellable: true },
    (_progress, token) => c.sendRequest(CodeActionRequest.type, params, token),
  );
  const actions = generateActions(result);
  if (actions.length === 0) {
    void vscode.window.showInformationMessage(
      "CodeFusion: no candidates here (put the cursor on a # comment, or wait for the model to load).",
    );
    return;
  }
  let chosen: CodeAction = actions[0];
  if (actions.length > 1) {
    const pick = await vscode.window.showQuickPick(
      actions.map((a) => ({ label: a.title, detail: actionPreview(a).split("\n").slice(0, 3).join(" ⏎ "), action: a })),
      { title: "CodeFusion: choose a candidate" },
    );
    if (!pick) return;
    chosen = pick.action;
  }
  if (!chosen.edit) chosen = await c.sendRequest(CodeActionResolveRequest.type, chosen);
  if (chosen.edit) await vscode.workspace.applyEdit(await c.protocol2CodeConverter.asWorkspaceEdit(chosen.edit));
  if (chosen.command) {
    await c.sendRequest(ExecuteCommandRequest.type, { command: chosen.command.command, arguments: chosen.command.arguments });
  }
}

async function showStatus(): Promise<void> {
  if (!requireClient()) return;
  const status = await queryStatus();
  if (!status) return;
  showBar(status);
  output.info(`status\n${formatStatus(status)}`);
  const choice = await vscode.window.showInformationMessage(
    `CodeFusion: ${formatStatus(status).split("\n").join(" · ")}`,
    "Show output",
  );
  if (choice) output.show(true);
}

async function restartServer(): Promise<void> {
  await stopClient();
  await startClient();
}

async function pickWorkbook(uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  if (uri instanceof vscode.Uri) return uri;
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { "Excel workbook": ["xlsx", "xlsm"] },
    title: "CodeFusion: workbook to add a conditional formatting rule to",
  });
  return picked?.[0];
}

async function addConditionalFormatting(uri?: vscode.Uri): Promise<void> {
  const c = requireClient();
  const book = await pickWorkbook(uri);
  if (!c || !book) return;
  const sheet = await vscode.window.showInputBox({ title: "Sheet", prompt: "Sheet name (empty: the first sheet)" });
  if (sheet === undefined) return;
  const range = await vscode.window.showInputBox({
    title: "Range",
    prompt: "Cells to format, e.g. B2:B200 (empty: the first data column)",
  });
  if (range === undefined) return;
  const description = await vscode.window.showInputBox({
    title: "Describe the highlighting",
    placeHolder: "highlight sales above 500",
    validateInput: (v) => (v.trim() === "" ? "Describe which cells to highlight" : undefined),
  });
  if (!description) return;
  const target = { uri: c.code2ProtocolConverter.asUri(book), sheet: sheet.trim(), range: range.trim() };
  try {
    const suggested = readCfSuggest(
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: "CodeFusion: suggesting rules…" },
        () => c.sendRequest(ExecuteCommandRequest.type, cfSuggestCommand(target, description.trim())),
      ),
    );
    if (suggested.candidates.length === 0) {
      void vscode.window.showInformationMessage("CodeFusion: no rule candidates (is the model loaded?).");
      return;
    }
    const pick = await vscode.window.showQuickPick(
      suggested.candidates.map((cand) => ({ ...cfPickItem(cand), candidate: cand })),
      { title: `Rule for ${suggested.sheet}!${suggested.range}`, matchOnDetail: true },
    );
    if (!pick) return;
    const applied = readCfApply(
      await c.sendRequest(
        ExecuteCommandRequest.type,
        cfApplyCommand({ ...target, sheet: suggested.sheet, range: suggested.range }, pick.candidate.rule),
      ),
    );
    output.info(cfAppliedMessage(applied));
    void vscode.window.showInformationMessage(cfAppliedMessage(applied));
  } catch (err) {
    void vscode.window.showErrorMessage(`CodeFusion: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("CodeFusion", { log: true });
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = "codefusion.showStatus";
  context.subscriptions.push(
    output,
    statusItem,
    vscode.commands.registerCommand("codefusion.generateFromComment", generateFromComment),
    vscode.commands.registerCommand("codefusion.showStatus", showStatus),
    vscode.commands.registerCommand("codefusion.restartServer", restartServer),
    vscode.commands.registerCommand("codefusion.addConditionalFormatting", addConditionalFormatting),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      if (e.affectsConfiguration(`${SECTION}.serverPath`) || e.affectsConfiguration(`${SECTION}.enabledLanguages`)) {
        await restartServer();
      } else if (client && client.state === State.Running) {
        await client.sendNotification(DidChangeConfigurationNotification.type, {
          settings: configurationSettings(settings().options),
        });
        pollStatus();
      }
    }),
  );
  await startClient();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}

// Requests the extension sends and how it reads their answers. No `vscode` import: the tests drive
// the real server with exactly these functions under plain node.
import {
  ClientCapabilities,
  CodeAction,
  CodeActionParams,
  CodeActionTriggerKind,
  Command,
  CompletionItem,
  CompletionList,
  CompletionParams,
  CompletionTriggerKind,
  ExecuteCommandParams,
  InlineCompletionItem,
  InlineCompletionList,
  InlineCompletionParams,
  InlineCompletionTriggerKind,
  Position,
  Range,
} from "vscode-languageserver-protocol";

/** Kind of the server's "Generate from comment" actions. */
export const GENERATE_KIND = "refactor.rewrite.codefusion";
export const GENERATE_TITLE_PREFIX = "Generate from comment";

export const COMMANDS = {
  status: "codefusion.status",
  cfSuggest: "codefusion.cf.suggest",
  cfApply: "codefusion.cf.apply",
} as const;

/** What `codefusion.status` answers. */
export interface ServerStatus {
  modelPath?: string;
  device?: string;
  parameters?: number;
  loaded?: boolean;
  loading?: boolean;
  error?: string | null;
  loadSeconds?: number | null;
  lastLatencyMs?: number | null;
  /** "not loaded" | "loading" | "ready" | "failed" (newer servers; `loaded`/`loading` older). */
  state?: string;
}

/** True when the model is loaded and requests get answers. */
export function isReady(s: ServerStatus | undefined): boolean {
  return !!s && (s.loaded === true || s.state === "ready");
}

/** The load error, if loading failed. */
export function loadError(s: ServerStatus | undefined): string | undefined {
  if (!s) return undefined;
  if (s.error) return s.error;
  return s.state === "failed" ? "model failed to load" : undefined;
}

/** One candidate of `codefusion.cf.suggest`. */
export interface CfCandidate {
  rule: string;
  /** The model's score; null for a rule read from the prompt's wording alone. */
  score: number | null;
  count: number;
  cells: string[];
  /** Why the candidate ranks where it does ("the prompt says 'above 500'", "highlights all 10 cells"). */
  notes: string[];
}

export interface CfSuggestResult {
  candidates: CfCandidate[];
  sheet: string;
  range: string;
}

type Raw = Record<string, unknown>;

/** The answer object; failures arrive as JSON-RPC errors (the request promise rejects), not as results. */
function answer(raw: unknown, what: string): Raw {
  if (!raw || typeof raw !== "object") throw new Error(`${what}: no answer`);
  return raw as Raw;
}

const str = (v: unknown): string => (typeof v === "string" ? v : v == null ? "" : String(v));
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);

/** Reads a `codefusion.cf.suggest` answer: `{sheet, cellRange, candidates: [{rule, score, count, addresses, notes}]}`. */
export function readCfSuggest(raw: unknown): CfSuggestResult {
  const r = answer(raw, "cf.suggest");
  const candidates = Array.isArray(r.candidates) ? (r.candidates as Raw[]) : [];
  return {
    sheet: str(r.sheet),
    range: str(r.cellRange),
    candidates: candidates.map((c) => ({
      rule: str(c.rule),
      score: typeof c.score === "number" ? c.score : null,
      count: Number(c.count ?? 0),
      cells: strs(c.addresses),
      notes: strs(c.notes),
    })),
  };
}

/** Reads a `codefusion.cf.apply` answer: `{path, sheet, cellRange, rule, backup, ...}`. */
export function readCfApply(raw: unknown): CfApplyResult {
  const r = answer(raw, "cf.apply");
  return {
    written: typeof r.path === "string",
    path: str(r.path),
    sheet: str(r.sheet),
    range: str(r.cellRange),
    rule: str(r.rule),
    backup: typeof r.backup === "string" ? r.backup : null,
  };
}

export interface CfApplyResult {
  written: boolean;
  path: string;
  sheet: string;
  range: string;
  rule: string;
  backup?: string | null;
}

/** Where a rule goes: sheet and range are optional (the server picks the first data column). */
export interface CfTarget {
  uri: string;
  sheet?: string;
  range?: string;
}

/** Capabilities a client needs for everything CodeFusion offers (the tests announce these). */
export function clientCapabilities(): ClientCapabilities {
  return {
    textDocument: {
      synchronization: { dynamicRegistration: false, didSave: false },
      completion: {
        completionItem: { snippetSupport: false, documentationFormat: ["markdown", "plaintext"] },
        contextSupport: true,
      },
      inlineCompletion: { dynamicRegistration: false },
      codeAction: {
        codeActionLiteralSupport: { codeActionKind: { valueSet: ["", "quickfix", "refactor", "refactor.rewrite"] } },
        resolveSupport: { properties: ["edit"] },
        dataSupport: true,
      },
    },
    workspace: { configuration: true, applyEdit: true, workspaceEdit: { documentChanges: true } },
    window: { workDoneProgress: true, showMessage: {} },
  };
}

export function completionParams(uri: string, position: Position, invoked = true): CompletionParams {
  return {
    textDocument: { uri },
    position,
    context: invoked
      ? { triggerKind: CompletionTriggerKind.Invoked }
      : { triggerKind: CompletionTriggerKind.TriggerCharacter, triggerCharacter: "\n" },
  };
}

export function inlineCompletionParams(uri: string, position: Position): InlineCompletionParams {
  return {
    textDocument: { uri },
    position,
    context: { triggerKind: InlineCompletionTriggerKind.Invoked },
  };
}

/** The comment line to ask about: the cursor line if it is a comment, else a comment just above a blank line. */
export function promptLine(lines: string[], cursorLine: number): number {
  const isComment = (i: number) => i >= 0 && i < lines.length && lines[i].trim().startsWith("#");
  if (isComment(cursorLine)) return cursorLine;
  if ((lines[cursorLine] ?? "").trim() === "" && isComment(cursorLine - 1)) return cursorLine - 1;
  return cursorLine;
}

export function codeActionParams(uri: string, line: number, lineLength: number): CodeActionParams {
  return {
    textDocument: { uri },
    range: Range.create(line, 0, line, lineLength),
    context: { diagnostics: [], only: [GENERATE_KIND], triggerKind: CodeActionTriggerKind.Invoked },
  };
}

/** The "Generate from comment" actions of a `textDocument/codeAction` answer, in server order. */
export function generateActions(result: (Command | CodeAction)[] | null | undefined): CodeAction[] {
  return (result ?? []).filter(
    (a): a is CodeAction =>
      !Command.is(a) &&
      ((a.kind !== undefined && (a.kind === GENERATE_KIND || a.kind.startsWith(GENERATE_KIND + "."))) ||
        a.title.startsWith(GENERATE_TITLE_PREFIX)),
  );
}

/** Completion items from either answer shape. */
export function completionItems(result: CompletionItem[] | CompletionList | null | undefined): CompletionItem[] {
  if (!result) return [];
  return Array.isArray(result) ? result : result.items;
}

export function inlineCompletionItems(
  result: InlineCompletionItem[] | InlineCompletionList | null | undefined,
): InlineCompletionItem[] {
  if (!result) return [];
  return Array.isArray(result) ? result : result.items;
}

/** The text a completion item inserts. */
export function completionText(item: CompletionItem): string {
  const edit = item.textEdit;
  if (edit) return edit.newText;
  return item.insertText ?? item.label;
}

export function statusCommand(): ExecuteCommandParams {
  return { command: COMMANDS.status, arguments: [] };
}

export function cfSuggestCommand(target: CfTarget, description: string, k?: number): ExecuteCommandParams {
  const arg: Record<string, unknown> = { uri: target.uri, description };
  if (target.sheet) arg.sheet = target.sheet;
  if (target.range) arg.range = target.range;
  if (k !== undefined) arg.k = k;
  return { command: COMMANDS.cfSuggest, arguments: [arg] };
}

export function cfApplyCommand(target: CfTarget, rule: string, style?: string): ExecuteCommandParams {
  const arg: Record<string, unknown> = { uri: target.uri, rule };
  if (target.sheet) arg.sheet = target.sheet;
  if (target.range) arg.range = target.range;
  if (style) arg.style = style;
  return { command: COMMANDS.cfApply, arguments: [arg] };
}

/** A quick-pick entry for one CF candidate: the rule, its score, which cells it would highlight. */
export function cfPickItem(c: CfCandidate, maxCells = 8): { label: string; description: string; detail: string } {
  const shown = c.cells.slice(0, maxCells).join(", ");
  const more = c.count > maxCells ? `, … (+${c.count - Math.min(maxCells, c.cells.length)})` : "";
  return {
    label: c.rule,
    description: c.score === null ? "from the wording" : `score ${c.score.toFixed(3)}`,
    detail:
      (c.count === 0 ? "highlights no cells" : `highlights ${c.count} cell${c.count === 1 ? "" : "s"}: ${shown}${more}`) +
      c.notes.map((n) => ` · ${n}`).join(""),
  };
}

export function cfAppliedMessage(r: CfApplyResult): string {
  const backup = r.backup ? ` (original kept as ${r.backup})` : "";
  return `CodeFusion wrote ${r.rule} to ${r.sheet}!${r.range} in ${r.path}${backup}.`;
}

/** Status bar text and tooltip for a server status (undefined: not answered yet). */
export function statusBar(status: ServerStatus | undefined, failed?: string): {
  text: string;
  tooltip: string;
  state: "loading" | "ready" | "error";
} {
  if (failed) return { text: "$(error) CodeFusion", tooltip: failed, state: "error" };
  const error = loadError(status);
  if (error) return { text: "$(error) CodeFusion", tooltip: `CodeFusion: ${error}`, state: "error" };
  if (!status || !isReady(status)) {
    return { text: "$(sync~spin) CodeFusion", tooltip: "CodeFusion: loading the model…", state: "loading" };
  }
  return {
    text: `$(check) CodeFusion (${status.device ?? "?"})`,
    tooltip: formatStatus(status),
    state: "ready",
  };
}

/** Human-readable server status, one fact a line. */
export function formatStatus(s: ServerStatus): string {
  const params = typeof s.parameters === "number" ? `${(s.parameters / 1e6).toFixed(1)}M` : "?";
  return [
    `model: ${s.modelPath ?? "?"}`,
    `device: ${s.device ?? "?"}`,
    `parameters: ${params}`,
    `state: ${loadError(s) ? `error: ${loadError(s)}` : isReady(s) ? "ready" : "loading"}`,
    `load time: ${s.loadSeconds != null ? `${s.loadSeconds.toFixed(1)} s` : "-"}`,
    `last latency: ${s.lastLatencyMs != null ? `${Math.round(s.lastLatencyMs)} ms` : "-"}`,
  ].join("\n");
}

/** The code a resolved action would insert (first text edit), for previews; "" when not resolved yet. */
export function actionPreview(action: CodeAction): string {
  const edit = action.edit;
  if (!edit) return "";
  for (const edits of Object.values(edit.changes ?? {})) {
    if (edits.length > 0) return edits[0].newText;
  }
  for (const change of edit.documentChanges ?? []) {
    if (!("edits" in change)) continue;
    for (const e of change.edits) if ("newText" in e) return e.newText;
  }
  return "";
}

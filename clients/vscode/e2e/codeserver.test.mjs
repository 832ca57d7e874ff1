// The extension inside a real VS Code: code-server 4.96.4 (VS Code 1.96 for the browser) shown in
// Debian's Chromium, driven by playwright-core. The freshly packaged .vsix is installed with
// `code-server --install-extension`; code-server runs with a PATH whose only CodeFusion piece is a
// `codefusion-lsp` link, so the installed extension must find its server on PATH. Then, as a user:
// the suggest widget after a comment, a code action, the palette command, the CF command on a
// workbook, and the notification when no server can be found.
// Needs `make setup-vscode-test`; without its pieces every test here is skipped, saying which.
// Env: CODEFUSION_VSCODE_TEST_DIR (where setup put code-server), CHROMIUM, CODEFUSION_SCREENSHOT_DIR,
// CODEFUSION_LOAD_TIMEOUT_MS.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const EXT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const REPO = path.resolve(EXT_DIR, "..", "..");
const TOOLS =
  process.env.CODEFUSION_VSCODE_TEST_DIR ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "codefusion", "vscode-test");
const CODE_SERVER = path.join(TOOLS, "node_modules", ".bin", "code-server");
const CHROMIUM = process.env.CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => fs.existsSync(p));
const VENV_BIN = path.join(REPO, ".venv", "bin");
const SERVER = path.join(VENV_BIN, "codefusion-lsp");
const PYTHON = path.join(VENV_BIN, "python");
// Screenshots go to the test's temp folder; CODEFUSION_SCREENSHOT_DIR=../../docs refreshes the README's.
const SHOTS = process.env.CODEFUSION_SCREENSHOT_DIR ? path.resolve(process.env.CODEFUSION_SCREENSHOT_DIR) : undefined;
const MODEL_READY_MS = Number(process.env.CODEFUSION_LOAD_TIMEOUT_MS) || 240_000;
const ANSWER_MS = 60_000;
const COMMENT = "# read a json file and return the parsed data";

function missingPieces() {
  const missing = [];
  if (!fs.existsSync(CODE_SERVER)) missing.push(`code-server (not in ${TOOLS})`);
  if (!fs.existsSync(path.join(TOOLS, "node_modules", "playwright-core"))) missing.push("playwright-core");
  if (!CHROMIUM) missing.push("Chromium (/usr/bin/chromium)");
  if (!fs.existsSync(SERVER)) missing.push(`${SERVER} (make setup)`);
  return missing;
}

const missing = missingPieces();
const skip = missing.length ? `VS Code pieces missing: ${missing.join(", ")}; run \`make setup-vscode-test\`` : false;
if (skip) console.log(`SKIP in-editor VS Code test: ${skip}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2));
}

function python(code, ...args) {
  return execFileSync(PYTHON, ["-c", code, ...args], { encoding: "utf8" });
}

/** Every file under `dir` (for the extension's log files). */
function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

/**
 * A code-server with its own profile and home. VS Code gives extensions the environment of the
 * user's login shell, so PATH is what `bash -l` makes of the home's `.profile`: with `onPath`, the
 * home has `~/.local/bin/codefusion-lsp` (as `pip install --user` leaves it) and Debian's stock line
 * that puts `~/.local/bin` on PATH; without, nothing of CodeFusion is on PATH.
 */
class CodeServer {
  constructor(root, name, onPath) {
    this.root = path.join(root, name);
    this.home = path.join(this.root, "home");
    this.userData = path.join(this.root, "user-data");
    this.extensions = path.join(this.root, "extensions");
    fs.mkdirSync(this.home, { recursive: true });
    fs.writeFileSync(path.join(this.home, ".profile"), 'if [ -d "$HOME/.local/bin" ] ; then PATH="$HOME/.local/bin:$PATH"; fi\n');
    if (onPath) {
      this.serverLink = path.join(this.home, ".local", "bin", "codefusion-lsp");
      fs.mkdirSync(path.dirname(this.serverLink), { recursive: true });
      fs.symlinkSync(SERVER, this.serverLink);
    }
    this.env = {
      HOME: this.home,
      SHELL: "/bin/bash",
      LANG: "C.UTF-8",
      XDG_CONFIG_HOME: path.join(this.root, "config"),
      XDG_DATA_HOME: path.join(this.root, "data"),
      PATH: [path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    };
  }

  args() {
    return ["--user-data-dir", this.userData, "--extensions-dir", this.extensions];
  }

  install(vsix) {
    return execFileSync(CODE_SERVER, [...this.args(), "--install-extension", vsix], { env: this.env, encoding: "utf8" });
  }

  settings(values) {
    writeJson(path.join(this.userData, "User", "settings.json"), values);
  }

  async start(folder) {
    this.port = await freePort();
    this.proc = spawn(
      CODE_SERVER,
      [
        ...this.args(),
        "--bind-addr", `127.0.0.1:${this.port}`,
        "--auth", "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        "--config", path.join(this.root, "config.yaml"),
        folder,
      ],
      { env: this.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.log = "";
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${this.log}`)), 60_000);
      const onData = (d) => {
        this.log += d.toString();
        if (this.log.includes("HTTP server listening")) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.proc.stdout.on("data", onData);
      this.proc.stderr.on("data", onData);
      this.proc.on("exit", (code) => reject(new Error(`code-server exited ${code}:\n${this.log}`)));
    });
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(folder)}`;
  }

  /** The CodeFusion output channel's log, as the extension host wrote it. */
  extensionLog() {
    return walk(path.join(this.userData, "logs"))
      .filter((f) => /CodeFusion\.log$/.test(f))
      .map((f) => fs.readFileSync(f, "utf8"))
      .join("\n");
  }

  stop() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill("SIGTERM");
  }
}

const USER_SETTINGS = {
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "extensions.ignoreRecommendations": true,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "editor.wordBasedSuggestions": "off", // only the language server's items in the widget
  "editor.quickSuggestions": { other: false, comments: false, strings: false },
  "editor.inlineSuggest.enabled": false, // ghost text would race the widget for Enter
  "editor.minimap.enabled": false,
  "files.autoSave": "off",
  "codefusion.numCandidates": 3,
  "codefusion.device": "cpu",
  "codefusion.seed": 0,
};

async function openFile(page, name) {
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: name }).first().click();
  const tab = page.locator(".tabs-container .tab", { hasText: name });
  await tab.first().waitFor({ timeout: 30_000 });
  const editor = page.locator(".editor-instance .monaco-editor").first();
  await editor.waitFor({ timeout: 30_000 });
  await editor.locator(".view-lines").click();
  return editor;
}

/** Saves (again each second: an edit may land after a resolve round trip) until the file changes. */
async function saveAndRead(page, file, before) {
  const deadline = Date.now() + ANSWER_MS;
  while (Date.now() < deadline) {
    await page.keyboard.press("Control+s");
    await new Promise((r) => setTimeout(r, 1000));
    const text = fs.readFileSync(file, "utf8");
    if (text !== before) return text;
  }
  return fs.readFileSync(file, "utf8");
}

function assertParses(text, what) {
  python("import ast, sys; ast.parse(sys.argv[1])", text); // throws with Python's error on failure
  assert.ok(text.length > 0, what);
}

async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press("Enter");
}

describe("CodeFusion in code-server (VS Code 1.96) through Chromium", { skip }, () => {
  let chromium, browser, page, tmp, workspace, vsix, ready;
  const shot = (name) => path.join(SHOTS ?? tmp, name);
  const servers = [];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cf-vscode-"));
    // The .vsix exactly as users get it (compiles first: vscode:prepublish).
    vsix = path.join(tmp, "codefusion.vsix");
    execFileSync("npx", ["vsce", "package", "--allow-missing-repository", "--out", vsix], { cwd: EXT_DIR, stdio: "pipe" });
    const require = createRequire(path.join(TOOLS, "package.json"));
    chromium = require("playwright-core").chromium;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    workspace = path.join(tmp, "project");
    fs.mkdirSync(workspace);
    fs.writeFileSync(path.join(workspace, "main.py"), "import json\n\n");
    fs.writeFileSync(path.join(workspace, "files.py"), "import os\n\n# list the files in a directory\n");
    fs.writeFileSync(path.join(workspace, "count.py"), "import sys\n\n# count the words in a text file\n");
    python(
      "import openpyxl, sys\nwb = openpyxl.Workbook(); ws = wb.active; ws.title = 'Sales'; ws.append(['Region', 'Sales'])\n" +
        "for i, v in enumerate([120, 640, 480, 910, 75, 505, 300, 820, 50, 700]): ws.append([f'R{i}', v])\nwb.save(sys.argv[1])",
      path.join(workspace, "sales.xlsx"),
    );
  });

  after(async () => {
    await browser?.close();
    for (const s of servers) s.stop();
  });

  test("the .vsix installs, and the extension finds codefusion-lsp on PATH", async () => {
    const cs = new CodeServer(tmp, "on-path", true);
    servers.push(cs);
    const out = cs.install(vsix);
    assert.match(out, /successfully installed/);
    const pkg = JSON.parse(fs.readFileSync(path.join(EXT_DIR, "package.json"), "utf8"));
    const installed = fs.readdirSync(cs.extensions);
    assert.ok(installed.includes(`${pkg.publisher}.${pkg.name}-${pkg.version}`), `${installed}`);
    cs.settings(USER_SETTINGS);
    const url = await cs.start(workspace);
    page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    await page.goto(url);
    await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
    await openFile(page, "main.py"); // activates the extension (onLanguage:python)
    const bar = page.locator(".statusbar-item", { hasText: "CodeFusion (cpu)" });
    try {
      await bar.first().waitFor({ timeout: MODEL_READY_MS });
    } catch (err) {
      const shot = path.join(tmp, "not-ready.png");
      await page.screenshot({ path: shot });
      const bars = await page.locator(".statusbar-item").allInnerTexts();
      throw new Error(`${err}\nstatus bar: ${JSON.stringify(bars)}\nscreenshot: ${shot}\nextension log:\n${cs.extensionLog()}\ncode-server:\n${cs.log}`);
    }
    ready = true;
    const log = cs.extensionLog();
    assert.match(log, new RegExp(`starting ${cs.serverLink.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(from PATH\\)`), log);
  });

  test("suggest widget: CodeFusion items after a comment; accepting one writes it under the comment", async (t) => {
    if (!ready) return t.skip("the server did not start");
    const file = path.join(workspace, "main.py");
    const before = fs.readFileSync(file, "utf8");
    await openFile(page, "main.py");
    await page.keyboard.press("Control+End");
    await page.keyboard.type(COMMENT);
    await page.keyboard.press("Enter");
    await page.keyboard.press("Control+Space");
    const rows = page.locator(".suggest-widget.visible .monaco-list-row");
    await rows.first().waitFor({ timeout: ANSWER_MS });
    // The widget can open on a "loading" row: wait until CodeFusion's items are in.
    await page.locator(".suggest-widget.visible .monaco-list-row", { hasText: "CodeFusion #" }).first()
      .waitFor({ timeout: ANSWER_MS }).catch(() => {});
    const labels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("aria-label") || e.textContent || ""));
    const first = await rows.first().locator(".label-name").innerText();
    await page.keyboard.press("Control+Space"); // again: the details pane with the whole candidate
    await page.locator(".suggest-widget.visible .suggest-details-container .details").first()
      .waitFor({ timeout: 5_000 }).catch(() => {});
    await page.screenshot({ path: shot("vscode-suggest.png") });
    assert.ok(labels.length >= 1 && labels.length <= 3, `items: ${JSON.stringify(labels)}`);
    const details = await rows.evaluateAll((els) => els.map((e) => e.querySelector(".details-label")?.textContent ?? ""));
    assert.ok(details.some((d) => d.startsWith("CodeFusion #")), `no CodeFusion item: ${JSON.stringify(details)}`);
    await page.keyboard.press("Enter");
    const text = await saveAndRead(page, file, before);
    assert.ok(text.startsWith(`import json\n\n${COMMENT}\n`), text);
    const code = text.slice(`import json\n\n${COMMENT}\n`.length);
    assert.ok(code.trim().length > 0 && code.includes(first.trim()), `accepted ${JSON.stringify(first)}, file:\n${text}`);
    assertParses(text, "the file after accepting");
  });

  test("code action (Ctrl+.) on the comment: Generate from comment edits the file", async (t) => {
    if (!ready) return t.skip("the server did not start");
    const file = path.join(workspace, "files.py");
    const before = fs.readFileSync(file, "utf8");
    await openFile(page, "files.py");
    await page.keyboard.press("Control+End");
    await page.keyboard.press("ArrowUp");
    await page.keyboard.press("End");
    await page.keyboard.press("Control+.");
    const action = page.locator(".action-widget .monaco-list-row", { hasText: "Generate from comment" });
    await action.first().waitFor({ timeout: ANSWER_MS });
    await page.screenshot({ path: shot("vscode-code-action.png") });
    // The menu opens on the first action (a pointer block covers the page, so keys, not clicks).
    assert.match((await page.locator(".action-widget .monaco-list-row.focused").innerText()).trim(), /^Generate from comment/);
    await page.keyboard.press("Enter");
    const text = await saveAndRead(page, file, before);
    assert.ok(text.startsWith(before.trimEnd()) && text.length > before.length, text);
    assertParses(text, "the file after the code action");
  });

  test("palette: CodeFusion: Generate from comment, with its quick pick", async (t) => {
    if (!ready) return t.skip("the server did not start");
    const file = path.join(workspace, "count.py");
    const before = fs.readFileSync(file, "utf8");
    await openFile(page, "count.py");
    await page.keyboard.press("Control+End");
    await runCommand(page, "CodeFusion: Generate from comment");
    const pick = page.locator(".quick-input-widget", { hasText: "choose a candidate" });
    await pick.waitFor({ timeout: ANSWER_MS });
    await page.keyboard.press("Enter");
    const text = await saveAndRead(page, file, before);
    assert.ok(text.startsWith(before) && text.length > before.length, text);
    assertParses(text, "the file after the command");
  });

  test("CF: Explorer context menu on a workbook, input boxes, rule quick pick, rule written", async (t) => {
    if (!ready) return t.skip("the server did not start");
    const book = path.join(workspace, "sales.xlsx");
    const input = page.locator(".quick-input-widget input.input");
    // A busy machine sometimes drops the menu's click (the menu closes, no command runs): open it again, at most 3 times.
    for (let attempt = 1; ; attempt++) {
      await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "sales.xlsx" }).first().click({ button: "right" });
      const item = page.locator(".context-view .action-item", { hasText: "Add conditional formatting rule" }).first();
      await item.waitFor({ timeout: 10_000 });
      await item.hover(); // the menu takes a click only once the item is hovered
      await item.click();
      try {
        await input.waitFor({ timeout: 10_000 });
        break;
      } catch (e) {
        if (attempt === 3) throw e;
        await page.keyboard.press("Escape");
      }
    }
    // Each box is told apart by its title, so an answer never lands in the box that is closing.
    for (const [title, answer] of [["Sheet", "Sales"], ["Range", "B2:B11"], ["Describe the highlighting", "highlight sales above 500"]]) {
      await page.locator(".quick-input-widget .quick-input-title", { hasText: title }).waitFor({ timeout: 10_000 });
      await input.waitFor({ timeout: 10_000 });
      await input.fill(answer);
      await page.keyboard.press("Enter");
    }
    const rules = page.locator(".quick-input-list .monaco-list-row");
    await rules.first().waitFor({ timeout: ANSWER_MS });
    await page.screenshot({ path: shot("vscode-cf.png") });
    const rule = (await rules.first().locator(".label-name").first().innerText()).trim();
    // the rule the wording names ("above 500") leads, whatever the model ranked first (server/cf_ranking.py)
    const offered = (await rules.locator(".label-name").allInnerTexts()).map((l) => l.trim());
    assert.equal(rule, "GreaterThan(500)", `rules offered, in order: ${offered.join(", ")}`);
    await page.keyboard.press("Enter");
    const toast = page.locator(".notifications-toasts .notification-toast", { hasText: rule });
    await toast.first().waitFor({ timeout: ANSWER_MS });
    const written = JSON.parse(
      python(
        "import json, openpyxl, sys\nws = openpyxl.load_workbook(sys.argv[1])['Sales']\n" +
          "print(json.dumps([str(r.sqref) for r in ws.conditional_formatting]))",
        book,
      ),
    );
    assert.deepEqual(written, ["B2:B11"], `rule ${rule}`);
  });

  test("no server anywhere: one notification with the setting and the install command", async () => {
    const cs = new CodeServer(tmp, "no-server", false); // PATH without codefusion-lsp, no Python extension
    servers.push(cs);
    cs.install(vsix);
    cs.settings(USER_SETTINGS);
    const url = await cs.start(workspace);
    const p = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    await p.goto(url);
    await p.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
    await openFile(p, "main.py");
    const toast = p.locator(".notifications-toasts .notification-toast", { hasText: "language server is not installed" });
    await toast.first().waitFor({ timeout: 60_000 });
    await p.screenshot({ path: shot("vscode-no-server.png") });
    const text = await toast.first().innerText();
    assert.match(text, /pip install codefusion-lsp/);
    for (const button of ["Open setting", "Copy install command"]) {
      assert.equal(await toast.first().locator(".monaco-button", { hasText: button }).count(), 1, `${button} in ${text}`);
    }
    assert.equal(await p.locator(".notifications-toasts .notification-toast", { hasText: "CodeFusion" }).count(), 1);
    await toast.first().locator(".monaco-button", { hasText: "Open setting" }).click();
    await p.locator(".settings-editor .setting-item-contents", { hasText: "Server Path" }).first().waitFor({ timeout: 20_000 });
    await p.close();
  });
});

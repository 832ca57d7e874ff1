--- CodeFusion for Neovim 0.11+. `lsp/codefusion.lua` is the server config that
--- `vim.lsp.enable('codefusion')` reads, `plugin/codefusion.lua` adds :CodeFusionGenerate,
--- :CodeFusionStatus and :CodeFusionCF; this module holds what both use, and `setup()` for options.
--- The server does all the work.
local M = {}

M.name = "codefusion"
M.generate_kind = "refactor.rewrite.codefusion"

--- Defaults; every key can be overridden in setup().
M.defaults = {
  --- Server command (list). nil: <project>/.venv/bin/codefusion-lsp, then the .venv of the
  --- repository this plugin lives in, then `codefusion-lsp` on $PATH.
  cmd = nil,
  filetypes = { "python", "sh", "bash" },
  root_markers = { "pyproject.toml", "setup.py", ".git" },
  --- Server options (sent as initializationOptions and settings under "codefusion"):
  --- numCandidates, steps, maxTokens, device ("auto"|"cpu"|"cuda"), modelPath, seed, enabledLanguages, seedFromExamples.
  settings = {},
  --- Turn on Neovim's built-in LSP completion (vim.lsp.completion) in attached buffers;
  --- leave false when nvim-cmp or blink.cmp provides completion.
  builtin_completion = false,
  --- Show the server's candidates as ghost text with vim.lsp.inline_completion (Neovim 0.12+;
  --- ignored on 0.11, which has no inline completion client).
  inline_completion = false,
  --- Notify when the model has loaded.
  notify_ready = true,
  --- Extra client capabilities, e.g. require("cmp_nvim_lsp").default_capabilities().
  capabilities = nil,
  --- Called after CodeFusion's own on_attach: function(client, bufnr).
  on_attach = nil,
}

M.config = vim.deepcopy(M.defaults)

local function executable(path)
  return path ~= nil and vim.fn.executable(path) == 1
end

--- The server command: the first executable of the project's .venv, this repository's .venv, $PATH.
function M.find_server()
  local venv_bin = "/.venv/bin/codefusion-lsp"
  local found = vim.fs.find(".venv", { upward = true, path = vim.fn.getcwd(), type = "directory" })[1]
  if found and executable(found .. "/bin/codefusion-lsp") then
    return found .. "/bin/codefusion-lsp"
  end
  -- this file is <repo>/clients/nvim/lua/codefusion/init.lua
  local here = debug.getinfo(1, "S").source:sub(2)
  local repo = vim.fs.normalize(vim.fn.fnamemodify(here, ":p:h:h:h:h:h"))
  if executable(repo .. venv_bin) then
    return repo .. venv_bin
  end
  return "codefusion-lsp"
end

--- Neovim filetype → the server's language name.
function M.server_language(ft)
  if ft == "sh" or ft == "bash" or ft == "zsh" or ft == "shellscript" then
    return "bash"
  end
  return ft
end

--- The server options from the user's settings: the shell filetypes map to "bash".
function M.server_options(settings)
  local opts = vim.deepcopy(settings or {})
  if opts.enabledLanguages then
    local seen, langs = {}, {}
    for _, l in ipairs(opts.enabledLanguages) do
      local s = M.server_language(l)
      if not seen[s] then
        seen[s] = true
        table.insert(langs, s)
      end
    end
    opts.enabledLanguages = langs
  end
  -- an empty table would go out as the JSON array []
  return next(opts) and opts or vim.empty_dict()
end

--- Per-buffer features chosen in setup() (M.config), then the user's own on_attach.
function M.on_attach(client, bufnr)
  local config = M.config
  if config.builtin_completion and vim.lsp.completion then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true })
  end
  if config.inline_completion and vim.lsp.inline_completion then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  end
  if config.on_attach then
    config.on_attach(client, bufnr)
  end
end

--- Sends `settings.codefusion` (shell filetypes mapped to "bash") as initializationOptions too, so
--- `vim.lsp.config('codefusion', { settings = { codefusion = {...} } })` alone configures the server.
function M.before_init(params, config)
  local settings = config.settings or {}
  local options = M.server_options(settings[M.name])
  settings[M.name] = options
  params.initializationOptions = vim.tbl_deep_extend("force", params.initializationOptions or {}, { [M.name] = options })
end

--- The vim.lsp.config table for the server (what lsp/codefusion.lua returns, with M.defaults).
function M.lsp_config(config)
  local options = M.server_options(config.settings)
  return {
    cmd = config.cmd or { M.find_server() },
    filetypes = config.filetypes,
    root_markers = config.root_markers,
    settings = { codefusion = options },
    capabilities = config.capabilities,
    before_init = M.before_init,
    on_attach = M.on_attach,
  }
end

--- A running CodeFusion client: the one attached to `bufnr`, else any, else a new one (not attached).
function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })
  if #clients == 0 then
    clients = vim.lsp.get_clients({ name = M.name })
  end
  if #clients > 0 then
    return clients[1]
  end
  local cfg = vim.lsp.config[M.name]
  if not cfg then
    return nil
  end
  cfg = vim.deepcopy(cfg)
  cfg.name = M.name
  cfg.root_dir = cfg.root_dir or vim.fn.getcwd()
  local id = vim.lsp.start(cfg, { attach = false })
  return id and vim.lsp.get_client_by_id(id) or nil
end

local function notify(msg, level)
  vim.notify("CodeFusion: " .. msg, level or vim.log.levels.INFO)
end

--- The comment line to ask about: the cursor line if it is a comment, else a comment just above
--- a blank cursor line (0-based).
function M.prompt_line(lines, cursor)
  local function comment(i)
    return lines[i + 1] ~= nil and lines[i + 1]:match("^%s*#") ~= nil
  end
  if comment(cursor) then
    return cursor
  end
  if (lines[cursor + 1] or ""):match("^%s*$") and comment(cursor - 1) then
    return cursor - 1
  end
  return cursor
end

--- The "Generate from comment" actions of a codeAction answer.
function M.generate_actions(result)
  local out = {}
  for _, a in ipairs(result or {}) do
    local kind_ok = type(a.kind) == "string"
      and (a.kind == M.generate_kind or vim.startswith(a.kind, M.generate_kind .. "."))
    local title_ok = type(a.title) == "string" and vim.startswith(a.title, "Generate from comment")
    if type(a.command) ~= "string" and (kind_ok or title_ok) then
      table.insert(out, a)
    end
  end
  return out
end

local function apply_action(client, action, bufnr, done)
  local function finish(a)
    if a.edit then
      vim.lsp.util.apply_workspace_edit(a.edit, client.offset_encoding)
    end
    if type(a.command) == "table" then
      client:exec_cmd(a.command, { bufnr = bufnr })
    end
    if done then
      done(a)
    end
  end
  if action.edit then
    return finish(action)
  end
  client:request("codeAction/resolve", action, function(err, resolved)
    if err or not resolved then
      return notify("resolve failed: " .. vim.inspect(err), vim.log.levels.ERROR)
    end
    finish(resolved)
  end, bufnr)
end

--- Generate code from the comment at (or just above) the cursor: asks the server for its
--- "Generate from comment" actions and applies the chosen one. `opts.on_done(action)` after applying.
function M.generate(opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })[1]
  if not client then
    return notify("not attached to this buffer", vim.log.levels.WARN)
  end
  local lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  local line = M.prompt_line(lines, vim.api.nvim_win_get_cursor(0)[1] - 1)
  local text = lines[line + 1] or ""
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    range = {
      start = { line = line, character = 0 },
      ["end"] = { line = line, character = vim.str_utfindex(text, client.offset_encoding) },
    },
    context = { diagnostics = {}, only = { M.generate_kind }, triggerKind = 1 },
  }
  client:request("textDocument/codeAction", params, function(err, result)
    if err then
      return notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
    end
    local actions = M.generate_actions(result)
    if #actions == 0 then
      return notify("no candidates here (a # comment above the cursor? model still loading?)")
    end
    if #actions == 1 then
      return apply_action(client, actions[1], bufnr, opts.on_done)
    end
    vim.ui.select(actions, {
      prompt = "CodeFusion candidate",
      format_item = function(a)
        return a.title
      end,
    }, function(choice)
      if choice then
        apply_action(client, choice, bufnr, opts.on_done)
      end
    end)
  end, bufnr)
end

local function present(v)
  return v ~= nil and v ~= vim.NIL and v ~= ""
end

--- True when the server's model is loaded (`state` "ready", or `loaded` on older servers).
function M.is_ready(s)
  return type(s) == "table" and (s.loaded == true or s.state == "ready")
end

--- The load error of a status, or nil.
function M.load_error(s)
  if type(s) ~= "table" then
    return nil
  end
  if present(s.error) then
    return tostring(s.error)
  end
  return s.state == "failed" and "model failed to load" or nil
end

--- Human-readable server status.
function M.format_status(s)
  local params = type(s.parameters) == "number" and string.format("%.1fM", s.parameters / 1e6) or "?"
  local err = M.load_error(s)
  local state = err and ("error: " .. err) or (M.is_ready(s) and "ready" or "loading")
  local function num(v, fmt)
    return type(v) == "number" and string.format(fmt, v) or "-"
  end
  return table.concat({
    "model: " .. tostring(s.modelPath),
    "device: " .. tostring(s.device),
    "parameters: " .. params,
    "state: " .. state,
    "load time: " .. num(s.loadSeconds, "%.1f s"),
    "last latency: " .. num(s.lastLatencyMs, "%.0f ms"),
  }, "\n")
end

--- Calls a server command; `callback(err, result)`.
function M.exec(command, args, callback)
  local client = M.client(vim.api.nvim_get_current_buf())
  if not client then
    return notify("server not configured: vim.lsp.enable('codefusion') (is clients/nvim on 'runtimepath'?)", vim.log.levels.ERROR)
  end
  client:request("workspace/executeCommand", { command = command, arguments = args }, callback)
end

function M.status()
  M.exec("codefusion.status", {}, function(err, s)
    if err then
      return notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
    end
    notify("\n" .. M.format_status(s))
  end)
end

--- A `codefusion.cf.suggest` answer ({sheet, cellRange, candidates = {{rule, score, count, addresses, notes}}})
--- as {sheet, range, candidates = {{rule, score, count, cells, notes}}}; nil and a message when there is
--- none (failures arrive as JSON-RPC errors).
function M.read_suggestions(res)
  if type(res) ~= "table" then
    return nil, "no answer"
  end
  local out = { sheet = res.sheet, range = res.cellRange, candidates = {} }
  for _, c in ipairs(res.candidates or {}) do
    local score = type(c.score) == "number" and c.score or nil -- vim.NIL for a rule read from the wording
    table.insert(out.candidates, {
      rule = c.rule,
      score = score,
      count = c.count or 0,
      cells = c.addresses or {},
      notes = c.notes or {},
    })
  end
  return out
end

--- One line per CF candidate for vim.ui.select.
function M.format_candidate(c, max_cells)
  max_cells = max_cells or 6
  local cells = {}
  for i = 1, math.min(#c.cells, max_cells) do
    cells[i] = c.cells[i]
  end
  local more = c.count > #cells and string.format(", … (+%d)", c.count - #cells) or ""
  local notes = #(c.notes or {}) > 0 and ("  (" .. table.concat(c.notes, "; ") .. ")") or ""
  return string.format("%s   [%d cells: %s%s]%s", c.rule, c.count, table.concat(cells, ", "), more, notes)
end

--- Suggest conditional-formatting rules for a workbook and write the chosen one.
--- `path`: the .xlsx (prompted when nil).
function M.cf(path)
  local function ask(prompt, default, cb)
    vim.ui.input({ prompt = prompt, default = default }, function(v)
      if v ~= nil then
        cb(vim.trim(v))
      end
    end)
  end
  local function run(book)
    local uri = vim.uri_from_fname(vim.fn.fnamemodify(vim.fn.expand(book), ":p"))
    ask("Sheet (empty: first sheet): ", "", function(sheet)
      ask("Range, e.g. B2:B200 (empty: first data column): ", "", function(range)
        ask("Describe the highlighting: ", "", function(description)
          if description == "" then
            return notify("no description given", vim.log.levels.WARN)
          end
          local target = { uri = uri, sheet = sheet ~= "" and sheet or nil, range = range ~= "" and range or nil }
          local arg = vim.tbl_extend("force", target, { description = description })
          M.exec("codefusion.cf.suggest", { arg }, function(err, raw)
            if err then
              return notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
            end
            local res, problem = M.read_suggestions(raw)
            if not res then
              return notify(problem, vim.log.levels.WARN)
            end
            if #res.candidates == 0 then
              return notify("no rule candidates for that description")
            end
            vim.ui.select(res.candidates, {
              prompt = string.format("Rule for %s!%s", res.sheet, res.range),
              format_item = M.format_candidate,
            }, function(choice)
              if not choice then
                return
              end
              local apply = { uri = uri, sheet = res.sheet, range = res.range, rule = choice.rule }
              M.exec("codefusion.cf.apply", { apply }, function(err2, w)
                if err2 then
                  return notify(err2.message or vim.inspect(err2), vim.log.levels.ERROR)
                end
                if type(w) ~= "table" then
                  return notify("not written: " .. vim.inspect(w), vim.log.levels.ERROR)
                end
                local backup = present(w.backup) and (" (original kept as " .. w.backup .. ")") or ""
                notify(string.format("wrote %s to %s!%s in %s%s", w.rule, w.sheet, w.cellRange, w.path, backup))
              end)
            end)
          end)
        end)
      end)
    end)
  end
  if path and path ~= "" then
    return run(path)
  end
  local current = vim.api.nvim_buf_get_name(0)
  local default = current:match("%.xls[xm]$") and current or ""
  ask("Workbook (.xlsx): ", default, function(p)
    if p ~= "" then
      run(p)
    end
  end)
end

--- The :CodeFusion* user commands (plugin/codefusion.lua creates them at startup).
function M.create_commands()
  vim.api.nvim_create_user_command("CodeFusionGenerate", function()
    M.generate()
  end, { desc = "CodeFusion: generate code from the comment at the cursor" })
  vim.api.nvim_create_user_command("CodeFusionStatus", function()
    M.status()
  end, { desc = "CodeFusion: server status" })
  vim.api.nvim_create_user_command("CodeFusionCF", function(a)
    M.cf(a.args)
  end, { nargs = "?", complete = "file", desc = "CodeFusion: add a conditional formatting rule to an .xlsx" })
end

--- "CodeFusion: model ready" when the server's load progress ends (if M.config.notify_ready).
function M.watch_progress()
  vim.api.nvim_create_autocmd("LspProgress", {
    group = vim.api.nvim_create_augroup("codefusion_progress", { clear = true }),
    pattern = "end",
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if M.config.notify_ready and client and client.name == M.name then
        notify("model ready")
      end
    end,
  })
end

--- Options for those who want them: `opts` overrides M.defaults (deep merge), is layered over
--- lsp/codefusion.lua with vim.lsp.config, and the server is enabled. Not needed otherwise:
--- `vim.lsp.enable('codefusion')` alone works.
function M.setup(opts)
  if vim.fn.has("nvim-0.11") ~= 1 then
    return notify("needs Neovim 0.11 or newer (vim.lsp.config)", vim.log.levels.ERROR)
  end
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  vim.lsp.config(M.name, M.lsp_config(M.config))
  vim.lsp.enable(M.name)
end

return M

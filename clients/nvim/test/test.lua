-- Headless end-to-end test: real Neovim + the codefusion plugin + the real codefusion-lsp, set up the
-- Neovim 0.11 way: clients/nvim on 'runtimepath' at startup (so plugin/codefusion.lua runs), options
-- with vim.lsp.config, the server started by vim.lsp.enable('codefusion') alone (no setup()).
-- Run: nvim --headless --clean --cmd "set rtp^=clients/nvim" -l clients/nvim/test/test.lua
-- Env: CODEFUSION_TEST_MODEL (the modelPath setting), CODEFUSION_TEST_DIR (scratch dir),
-- CODEFUSION_TEST_XLSX (a workbook with sheet "Sales", values in B2:B11), CODEFUSION_TEST_REPORT
-- (JSON written here for the pytest side to check the code parses and the health report).
local here = vim.fs.dirname(vim.fs.normalize(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p")))
local plugin = vim.fs.dirname(here)
vim.cmd("filetype on")

local load_timeout = tonumber(vim.env.CODEFUSION_LOAD_TIMEOUT_MS or "") or 300000
local request_timeout = 180000
local dir = vim.env.CODEFUSION_TEST_DIR or vim.fn.tempname()
vim.fn.mkdir(dir, "p")
vim.fn.chdir(dir)

local report = { failures = {} }
local function log(msg)
  io.stderr:write("[test.lua] " .. msg .. "\n")
end
local function check(cond, msg)
  if not cond then
    table.insert(report.failures, msg)
    log("FAIL: " .. msg)
  end
  return cond
end
local function write_report()
  local path = vim.env.CODEFUSION_TEST_REPORT or (dir .. "/report.json")
  vim.fn.writefile({ vim.json.encode(report) }, path)
end

-- Capture notifications; answer prompts like a user would.
local notes = {}
vim.notify = function(msg)
  table.insert(notes, msg)
  log("notify: " .. msg)
end
local inputs = {}
vim.ui.input = function(_, cb)
  cb(table.remove(inputs, 1))
end
local selects = {} -- what each vim.ui.select showed, as its format_item lines
vim.ui.select = function(items, opts, cb)
  local shown = {}
  for i, item in ipairs(items) do
    shown[i] = opts and opts.format_item and opts.format_item(item) or tostring(item)
  end
  table.insert(selects, shown)
  cb(items[1], 1)
end

check(vim.g.loaded_codefusion == true, "plugin/codefusion.lua did not run at startup (is clients/nvim on 'rtp'?)")
for _, name in ipairs({ "CodeFusionGenerate", "CodeFusionStatus", "CodeFusionCF" }) do
  check(vim.fn.exists(":" .. name) == 2, ":" .. name .. " missing without setup()")
end
local settings = { numCandidates = 3, device = "cpu", seed = 0, enabledLanguages = { "python", "sh" } }
if (vim.env.CODEFUSION_TEST_MODEL or "") ~= "" then
  settings.modelPath = vim.env.CODEFUSION_TEST_MODEL
end
vim.lsp.config("codefusion", { settings = { codefusion = settings } })
vim.lsp.enable("codefusion")
local cf = require("codefusion")
report.cmd = vim.lsp.config.codefusion.cmd

local function open(name, text)
  local path = dir .. "/" .. name
  vim.fn.writefile(vim.split(text, "\n", { plain = true }), path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  local attached = vim.wait(30000, function()
    return #vim.lsp.get_clients({ bufnr = buf, name = "codefusion" }) > 0
  end, 50)
  assert(attached, "codefusion-lsp did not attach to " .. name .. " (filetype " .. vim.bo[buf].filetype .. ")")
  return buf, vim.lsp.get_clients({ bufnr = buf, name = "codefusion" })[1]
end

local function text_of(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
end

--- Items of a completion answer applied one by one to a scratch copy of `buf`'s text.
local function completions(buf, client, row)
  vim.api.nvim_win_set_cursor(0, { row, 0 })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local t0 = vim.uv.hrtime()
  local responses = vim.lsp.buf_request_sync(buf, "textDocument/completion", params, request_timeout)
  local ms = (vim.uv.hrtime() - t0) / 1e6
  local res = responses and responses[client.id] and responses[client.id].result
  local items = res and (res.items or res) or {}
  local out = {}
  for _, item in ipairs(items) do
    local scratch = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_lines(scratch, 0, -1, false, vim.api.nvim_buf_get_lines(buf, 0, -1, false))
    local edit = item.textEdit
    if edit and edit.range then
      vim.lsp.util.apply_text_edits({ edit }, scratch, client.offset_encoding)
    else
      vim.api.nvim_buf_set_text(scratch, row - 1, 0, row - 1, 0, vim.split(item.insertText or item.label, "\n"))
    end
    table.insert(out, { label = item.label, text = text_of(scratch) })
    vim.api.nvim_buf_delete(scratch, { force = true })
  end
  return out, ms
end

local ok, err = xpcall(function()
  -- Python: wait for the model, complete, then generate from the comment.
  -- CODEFUSION_TEST_PY_COMMENT: a comment the test's model answers with code that parses (a tiny model knows few)
  local header = "import json\n\n" .. (os.getenv("CODEFUSION_TEST_PY_COMMENT") or "# read a json file and return the parsed data") .. "\n"
  local py = header
  local buf, client = open("main.py", py)
  log("attached; waiting for the model")
  local status
  local loaded = vim.wait(load_timeout, function()
    local r = client:request_sync("workspace/executeCommand", { command = "codefusion.status", arguments = {} }, 10000, buf)
    status = r and r.result
    return cf.is_ready(status) or cf.load_error(status) ~= nil
  end, 500)
  report.status = status
  assert(loaded and cf.is_ready(status), "model not loaded: " .. vim.inspect(status))
  check(status.device == "cpu", "device " .. tostring(status.device))

  local items, ms = completions(buf, client, 4)
  log(string.format("python completion: %d items in %.0f ms", #items, ms))
  report.python = items
  check(#items >= 1, "no Python completion items")
  check(#items <= 3, "more items than numCandidates")

  -- :CodeFusionGenerate with the cursor on the blank line under the comment (vim.ui.select picks #1).
  local before = text_of(buf)
  local tick = vim.api.nvim_buf_get_changedtick(buf)
  vim.api.nvim_win_set_cursor(0, { 4, 0 })
  vim.cmd("CodeFusionGenerate")
  local changed = vim.wait(request_timeout, function()
    return vim.api.nvim_buf_get_changedtick(buf) ~= tick
  end, 50)
  report.generated = text_of(buf)
  check(changed, "buffer unchanged after :CodeFusionGenerate")
  check(vim.startswith(report.generated, header), "comment lost")
  check(#report.generated > #before, "nothing inserted")

  -- Bash
  local sh = "#!/bin/bash\n# count the lines of every .txt file in the current directory\n"
  local sbuf, sclient = open("count.sh", sh)
  local sitems = completions(sbuf, sclient, 3)
  report.bash = sitems
  check(#sitems >= 1, "no Bash completion items")

  -- :CodeFusionStatus
  notes = {}
  vim.cmd("CodeFusionStatus")
  check(vim.wait(10000, function()
    return #notes > 0
  end, 50) and notes[1]:find("state: ready", 1, true) ~= nil, "status: " .. vim.inspect(notes))

  -- :CodeFusionCF on a workbook: sheet, range, description, then the first candidate.
  if (vim.env.CODEFUSION_TEST_XLSX or "") ~= "" then
    notes = {}
    inputs = { "Sales", "B2:B11", "highlight sales above 500" }
    vim.cmd("CodeFusionCF " .. vim.fn.fnameescape(vim.env.CODEFUSION_TEST_XLSX))
    local wrote = vim.wait(request_timeout, function()
      return #notes > 0
    end, 50)
    report.cf = notes
    report.cf_items = selects[#selects] or {}
    check(wrote, "CF: no answer")
  end

  -- :checkhealth codefusion (runs `codefusion doctor`) and :help codefusion.
  vim.cmd("checkhealth codefusion")
  report.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local helpdir = dir .. "/help"
  vim.fn.mkdir(helpdir .. "/doc", "p")
  vim.fn.writefile(vim.fn.readfile(plugin .. "/doc/codefusion.txt"), helpdir .. "/doc/codefusion.txt")
  vim.cmd("helptags " .. vim.fn.fnameescape(helpdir .. "/doc"))
  vim.opt.rtp:append(helpdir)
  local helped = pcall(vim.cmd, "help codefusion")
  report.help = helped and vim.fn.expand("%:t") or nil
  check(report.help == "codefusion.txt", ":help codefusion did not open codefusion.txt")
end, debug.traceback)
if not ok then
  table.insert(report.failures, tostring(err))
  log(tostring(err))
end
write_report()

for _, c in ipairs(vim.lsp.get_clients()) do
  c:stop()
end
vim.wait(5000, function()
  return #vim.lsp.get_clients() == 0
end, 50)
if #report.failures > 0 then
  log(#report.failures .. " failure(s)")
  os.exit(1)
end
log("all passed")

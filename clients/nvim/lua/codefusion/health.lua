--- :checkhealth codefusion — the server config, then `codefusion doctor`'s own checks.
local M = {}

local health = vim.health

--- Doctor checks from `codefusion doctor --json` ({checks = {{name, ok, detail, fix, required}}}).
function M.parse_json(text)
  local ok, decoded = pcall(vim.json.decode, text, { luanil = { object = true, array = true } })
  if not ok or type(decoded) ~= "table" then
    return nil
  end
  return decoded.checks or decoded
end

--- Doctor checks from its text report (servers without --json): "[ok  ] name: detail",
--- "[FAIL] …", "[warn] …", each optionally followed by "       fix: …".
function M.parse_text(text)
  local checks = {}
  for line in vim.gsplit(text, "\n", { plain = true }) do
    local mark, name, detail = line:match("^%[(%a+)%s*%] ([^:]+): (.*)$")
    local fix = line:match("^%s+fix: (.*)$")
    if mark then
      table.insert(checks, { name = name, detail = detail, ok = mark == "ok", required = mark ~= "warn" })
    elseif fix and #checks > 0 then
      checks[#checks].fix = fix
    end
  end
  return checks
end

--- The `codefusion` CLI beside the server executable (same venv), else the one on $PATH.
function M.doctor_command(server_cmd)
  local server = type(server_cmd) == "table" and server_cmd[1] or nil
  if server then
    local resolved = vim.fn.exepath(server)
    local sibling = vim.fs.joinpath(vim.fs.dirname(resolved ~= "" and resolved or server), "codefusion")
    if vim.fn.executable(sibling) == 1 then
      return sibling
    end
  end
  return vim.fn.executable("codefusion") == 1 and "codefusion" or nil
end

--- Runs the doctor (with the configured model and device); returns its checks, or nil and why.
function M.run_doctor(exe, options)
  local base = { exe, "doctor" }
  if type(options.modelPath) == "string" and options.modelPath ~= "" then
    vim.list_extend(base, { "--model", options.modelPath })
  end
  if type(options.device) == "string" then
    vim.list_extend(base, { "--device", options.device })
  end
  local json = vim.system(vim.list_extend(vim.deepcopy(base), { "--json" }), { text = true }):wait(180000)
  if json.code ~= 2 then -- 2: argparse did not know --json (an older server)
    local checks = M.parse_json(json.stdout or "")
    if checks then
      return checks
    end
  end
  local plain = vim.system(base, { text = true }):wait(180000)
  local checks = M.parse_text(plain.stdout or "")
  if #checks == 0 then
    return nil, string.format("`%s` printed no checks (exit %s): %s", table.concat(base, " "), plain.code, plain.stderr or "")
  end
  return checks
end

function M.check()
  local cf = require("codefusion")
  health.start("codefusion: Neovim client")
  if vim.fn.has("nvim-0.11") ~= 1 then
    return health.error("Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable)")
  end
  local config = vim.lsp.config[cf.name]
  if not config then
    return health.error("no LSP config 'codefusion'", { "put clients/nvim on 'runtimepath' (it holds lsp/codefusion.lua)" })
  end
  local enabled = vim.lsp._enabled_configs[cf.name] ~= nil
  health.ok("LSP config 'codefusion' found" .. (enabled and ", enabled" or ""))
  if not enabled then
    health.warn("not enabled", { "vim.lsp.enable('codefusion') in your init.lua" })
  end
  local cmd = config.cmd
  if type(cmd) == "table" and vim.fn.executable(cmd[1]) == 1 then
    health.ok("server: " .. table.concat(cmd, " "))
  elseif type(cmd) == "table" then
    health.error("server not found: " .. tostring(cmd[1]), {
      "pip install codefusion-lsp (or `make setup` in a checkout)",
      "or vim.lsp.config('codefusion', { cmd = { '/path/to/codefusion-lsp' } })",
    })
  end
  for _, client in ipairs(vim.lsp.get_clients({ name = cf.name })) do
    health.info(string.format("client %d running, %d buffer(s) attached", client.id, vim.tbl_count(client.attached_buffers)))
  end

  health.start("codefusion: codefusion doctor")
  local exe = M.doctor_command(cmd)
  if not exe then
    return health.error("`codefusion` CLI not found beside the server nor on $PATH", { "pip install codefusion-lsp" })
  end
  local options = ((config.settings or {})[cf.name]) or {}
  local checks, problem = M.run_doctor(exe, options)
  if not checks then
    return health.error(problem)
  end
  for _, c in ipairs(checks) do
    local line = string.format("%s: %s", c.name, c.detail or "")
    local advice = (c.fix and c.fix ~= "" and c.fix ~= vim.NIL) and { c.fix } or nil
    if c.ok then
      health.ok(line)
    elseif c.required == false then
      health.warn(line, advice)
    else
      health.error(line, advice)
    end
  end
end

return M

-- The server config that Neovim 0.11+ reads for `vim.lsp.enable('codefusion')`.
-- Override any field with `vim.lsp.config('codefusion', {...})`, e.g.
-- `{ settings = { codefusion = { numCandidates = 3 } } }` or `{ cmd = { "/opt/venv/bin/codefusion-lsp" } }`.
local cf = require("codefusion")
return cf.lsp_config(cf.config)

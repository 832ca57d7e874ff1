-- Loaded at startup when clients/nvim is on 'runtimepath': the :CodeFusion* commands and the
-- "model ready" notice, without setup(). Starting the server is `vim.lsp.enable('codefusion')`.
if vim.g.loaded_codefusion or vim.fn.has("nvim-0.11") ~= 1 then
  return
end
vim.g.loaded_codefusion = true

local cf = require("codefusion")
cf.create_commands()
cf.watch_progress()

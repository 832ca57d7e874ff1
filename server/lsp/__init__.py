"""The language server: the pygls server and its handlers, lsprotocol translation, the fast `initialize` front."""

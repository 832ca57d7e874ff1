"""The `codefusion` command: one module per subcommand, and the developer tools (bench, demo)."""

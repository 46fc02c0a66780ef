"""CLI subcommands, one module per room; see composer/cli.py."""

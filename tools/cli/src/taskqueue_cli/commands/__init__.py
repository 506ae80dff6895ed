"""The `taskqueue` commands, one module per group; `taskqueue_cli.main` composes them."""

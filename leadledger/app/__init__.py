"""Use cases: the one function per task that the CLI and the HTTP API both call."""

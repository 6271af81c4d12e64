"""Use cases called by both faces, the CLI and the API, so neither holds logic of its own."""

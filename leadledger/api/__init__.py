"""The HTTP API: `leadledger serve`."""

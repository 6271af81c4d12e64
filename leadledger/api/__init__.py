"""The HTTP face: FastAPI routes that call the application layer and serialise its answers."""

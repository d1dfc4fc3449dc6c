"""ASGI entry for multi-worker uvicorn / other servers: ``uvicorn cityops.asgi:app``."""

from cityops.app import create_app

app = create_app(server_process=True)

"""The HTTP API and the server-rendered console (PRODUCT.md C13), served by ``siyu serve``.

One process owns the workspace (the DuckDB warehouse allows one writer): :func:`create_app`
builds the FastAPI application over an opened :class:`~siyu.workspace.Workspace`. The API
lives in :mod:`siyu.web.api`, the console pages in :mod:`siyu.web.views`; both call the same
service functions the CLI calls (:mod:`siyu.web.service`), so a page, its JSON twin and
``siyu … --json`` show the same numbers.
"""

from siyu.web.app import create_app

__all__ = ["create_app"]

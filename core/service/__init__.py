"""``visionblocks serve``: a trained model as a real-time scoring endpoint (FastAPI on uvicorn).

- :mod:`.app`: the app factory (:func:`create_app`) and the runner (:func:`run`);
- :mod:`.routes`: the routes; :mod:`.dependencies`: the per-app state and the key check;
- :mod:`.schemas`: the pydantic models of every request and response (and so of ``/openapi.json``);
  :mod:`.openapi`: what FastAPI cannot infer from the routes (the ``/score`` body, the errors);
- :mod:`.formats`: the request formats it accepts and the one row shape it answers;
- :mod:`.problems`: designer error -> HTTP status, the one table; :mod:`.handlers`: the error answers;
- :mod:`.settings`: the operator's choices and their defaults (:class:`Limits`, :class:`Batching`);
- :mod:`.limits`: the checks of body size, images per request, pixels per image, timeout;
- :mod:`.batching`: micro-batching of concurrent requests on one worker thread;
- :mod:`.metrics`: what ``/metrics`` reports;
- :mod:`.commands`: the ``serve``, ``score`` and ``loadtest`` CLI commands.

The client side is :mod:`visionblocks.service.client`; the load test is :mod:`visionblocks.service.loadtest`.
"""

__all__ = ["Batching", "Limits", "create_app", "run"]


def __getattr__(name: str):
    # Lazy: the CLI imports .commands for every command, and the app pulls in FastAPI and torch.
    if name in ("create_app", "run"):
        from visionblocks.service import app

        return getattr(app, name)
    if name in ("Batching", "Limits"):
        from visionblocks.service import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

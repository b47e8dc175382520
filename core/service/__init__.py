"""``visionblocks serve``: a trained model as a real-time scoring endpoint (FastAPI on uvicorn).

- :mod:`.app`: the app factory (:func:`create_app`) and the runner (:func:`run`);
- :mod:`.formats`: the request formats it accepts and the one row shape it answers;
- :mod:`.limits`: body size, images per request, pixels per image, per-request timeout;
- :mod:`.batching`: micro-batching of concurrent requests on one worker thread;
- :mod:`.metrics`: what ``/metrics`` reports; :mod:`.openapi`: the ``/score`` schemas;
- :mod:`.commands`: the ``serve``, ``score`` and ``loadtest`` CLI commands.

The client side is :mod:`visionblocks.service.client`; the load test is :mod:`visionblocks.service.loadtest`.
"""

__all__ = ["Batching", "Limits", "create_app", "run"]


def __getattr__(name: str):
    # Lazy: the CLI imports .commands for every command, and the app pulls in torch.
    if name in ("Batching", "create_app", "run"):
        from visionblocks.service import app

        return getattr(app, name)
    if name == "Limits":
        from visionblocks.service.limits import Limits

        return Limits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

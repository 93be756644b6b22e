"""The control API and dashboard (OP-1, OP-4): aiohttp inside the daemon, token auth.

``app.build_app`` makes the aiohttp application from the route table in
``routes.py``; ``openapi.py`` documents the same table; ``server.serve_api``
runs it as one of the daemon's tasks. The daemon side is the facade
``genesis.daemon.operator.Operator``.
"""

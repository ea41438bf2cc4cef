"""Local emulators of the three control-plane APIs (Kubiya, Conductor, agents console) over SQLite.

The sandbox is what the quickstart runs against, what every test talks to, and a tool of its
own for trying a configuration offline. It follows `shared/api-reference.md` (quirks included)
and shares no code with the reconciler's core: it must behave like the real servers, not like
the client expects. Entry points: `app.create_app`, `transport.transport` (in process) and
`serve.serve` (uvicorn). `credentials` holds the built-in credentials the composition root
(`reconciler.live`) gives a `sandbox:` server that declares none.
"""

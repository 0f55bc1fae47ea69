"""The HTTP API's routers (one per resource), the middlewares that guard every request, the caller
as a dependency and the problem answers; `handlers.api` wires them into the resolver."""

"""The ASGI-free aiohttp server: app factory, middleware layers, health probes, process runner."""

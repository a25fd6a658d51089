"""The control API: the command layer, the HTTP/JSON + WebSocket server, its client."""

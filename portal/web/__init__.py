"""Web layer: controllers by business area, sessions, guards and templates glue."""

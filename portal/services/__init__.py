"""Business rules, one module per area. Services take a session and explicit
arguments; they never read the request."""

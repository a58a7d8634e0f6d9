"""Pure-Python business logic: services, models and errors. Knows ports, never SDKs."""

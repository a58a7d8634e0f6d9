"""The small interfaces the domain services talk to, one module per counterpart (Stripe, API Gateway,
the accounts table, ...).

Domain code (tollgate.domain) knows only these; adapters (tollgate.adapters) implement them
with one SDK each; tests implement them in memory with failure switches. Every method that
reaches a network service must honour a timeout and bounded retries inside the adapter, and
raise tollgate.domain.errors.DownstreamError (or a subclass) when the service fails, so the
service can roll back without knowing which SDK was involved.
"""

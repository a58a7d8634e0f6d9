"""Contract tests: each module states one port's semantics (tollgate.domain.ports) once and runs it against
the in-memory fake the other tests use AND the real adapter on its emulator, so a fake can never
drift from what production does (a test passing on the fake proves something about the adapter)."""

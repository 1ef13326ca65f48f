"""Wiring between chat adapters, storage, the engine and the publisher."""

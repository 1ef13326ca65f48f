"""The meeting engine: pure state, parsing and replay, no I/O."""

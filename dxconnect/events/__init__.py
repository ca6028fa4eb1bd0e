"""Events: the v1 envelope, the bus that carries them, and the built-in sinks."""

"""One module per ``speccal`` command; each provides ``register(subparsers)``."""

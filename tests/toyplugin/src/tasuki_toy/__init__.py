"""A minimal task used by the core's tests (installed as a plugin distribution by tox)."""

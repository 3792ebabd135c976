"""End-to-end tests share the session `stack` and `collector` from tests/conftest.py."""

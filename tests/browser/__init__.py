"""Real-browser tests of the extension. A package, so that this folder's conftest.py does not
take the module name `conftest` from tests/conftest.py, which other test modules import."""

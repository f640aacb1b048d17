"""Draftguard training: `python -m train --help`."""

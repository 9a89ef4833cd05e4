"""pydcos runtime package."""

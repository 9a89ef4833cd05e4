"""pydcos console package."""

"""pydcos actors package."""

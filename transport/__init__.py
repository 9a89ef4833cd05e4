"""pydcos transport package."""

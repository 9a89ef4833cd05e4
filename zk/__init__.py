"""pydcos zk package."""

"""The ``redis`` service: ``svc.yml``, ``redis.conf.mustache``, and its task module
(``node``: primary, replica, readiness, backup, restore) over pure decisions (``logic``)."""

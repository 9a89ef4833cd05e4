"""The ``zookeeper`` service: ``svc.yml``, ``zoo.cfg.mustache``, and its task module
(``node``: start one member, readiness) over pure ensemble decisions (``ensemble``)."""

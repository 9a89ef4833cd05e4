"""Users' own actors on the cluster (issue 27), Ray's actor API: the issue's script.

    pydcos cluster up                 # a local cluster (agent-1 is in zone-a)
    .venv/bin/python examples/cluster_actors.py

``connect()`` finds the local cluster (``$PYDCOS_ZK`` or ``~/.pydcos/cluster``); the
class, defined here in ``__main__``, travels to the worker with cloudpickle.
"""

# ruff: noqa: E702
# fmt: off
from runtime import connect, remote


@remote(cpus=0.5, mem=128, max_restarts=5)
class Counter:
    def __init__(self, start=0): self.n = start
    def incr(self, k=1): self.n += k; return self.n


with connect() as cluster:
    c = cluster.spawn(Counter, 10, name="counter", constraints=[["zone", "IS", "zone-a"]])
    c.incr(5).result()                               # 15
    futs = [c.incr() for _ in range(1000)]; cluster.wait(futs)
    same = cluster.get_actor("counter")              # from any script
    cluster.kill(c)

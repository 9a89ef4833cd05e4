"""kazoo's handler with a poll(2) ``select`` (zk/_handler.py): the contract of kazoo's
``selector_select``, on real sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from kazoo.handlers.utils import selector_select

from zk._handler import poll_select


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize("select", [poll_select, selector_select], ids=["poll", "kazoo"])
def test_the_same_answers_as_kazoos_select(
    select: object, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    assert callable(select)
    assert select([a], [], [], 0) == ([], [], [])  # nothing to read yet
    assert select([], [a], [], 0) == ([], [a], [])  # room to write
    b.send(b"x")
    assert select([a, b], [], [], 0) == ([a], [], [])
    assert select([a.fileno()], [], [], 1.0) == ([a.fileno()], [], [])  # fds too
    b.close()  # hang-up: ready to read (EOF)
    assert select([a], [], [], 0)[0] == [a]
    with pytest.raises(ValueError):
        select([a], [], [], -1)
    with pytest.raises(TypeError):
        select([a], [], [], "1")
    with pytest.raises(TypeError):
        select([object()], [], [], 0)


def test_a_closed_socket_is_an_error_not_a_wait(pair: tuple[socket.socket, socket.socket]) -> None:
    a, _ = pair
    fd = a.fileno()
    a.close()
    with pytest.raises(ValueError):
        poll_select([fd], [], [], 0)

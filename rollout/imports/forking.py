"""Producing items in a forked process, so that work overlaps with what this process does with them.

A large import spends about as long cleaning and planning rows (pure Python, in memory) as
writing them (SQLite); in one process the two take turns.  ``items_from_child`` runs the
producing side in a child made by fork(), which starts with a copy of everything already
loaded (lookups, existing duplicate keys, the app and request context, translations), and
receives its items through a pipe while this process consumes them.

The child must not use the database: it shares the parent's open connections, and it ends
with ``os._exit`` so that nothing (connection pools, atexit handlers) is cleaned up in its copy.
"""
from __future__ import annotations

import gc
import os
import pickle
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rollout.errors import ServiceError

T = TypeVar("T")
_ITEM, _END, _FAILED = 0, 1, 2
#: Pipe capacity asked for, and buffering on both ends: a thousand planned rows are about
#: 100 KB pickled, so the child may run several thousand rows ahead of the consumer.
_BUFFER = 1 << 20


class ChildFailed(RuntimeError):
    """The producing process failed with something that is not a ServiceError, or died."""


def available() -> bool:
    """Forking pays only where there is a second core this process may run the child on."""
    if not hasattr(os, "fork"):
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores > 1


def items_from_child(produce: Callable[[], Iterable[T]]) -> Iterator[T]:
    """The items of ``produce()``, computed in a forked child, in order.

    A ServiceError in the child is raised here with its message (a bad row in the file reads
    the same either way); anything else becomes ChildFailed naming it.  Closing the iterator
    early ends the child.
    """
    read_fd, write_fd = os.pipe()
    _widen(write_fd)
    pid = os.fork()
    if pid == 0:  # the child: produce, send, and leave without cleaning anything up
        os.close(read_fd)
        _produce_into(write_fd, produce)
    os.close(write_fd)
    finished = False
    try:
        with os.fdopen(read_fd, "rb", buffering=_BUFFER) as pipe:
            while True:
                try:
                    kind, payload = pickle.load(pipe)
                except EOFError:
                    raise ChildFailed("the planning process ended unexpectedly") from None
                if kind == _ITEM:
                    yield payload
                elif kind == _END:
                    finished = True
                    return
                else:
                    finished = True
                    raise payload
    finally:
        if not finished:  # stopped early: the child may be waiting on a full pipe
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)


def _widen(fd: int) -> None:
    """Let the pipe hold _BUFFER bytes (Linux; 64 KB otherwise) so the child rarely waits on it."""
    try:
        import fcntl
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _BUFFER)
    except (ImportError, AttributeError, OSError):  # other systems, or above the system's maximum
        pass


def _produce_into(write_fd: int, produce: Callable[[], Iterable[T]]) -> None:
    # The child lives for one run and frees what it makes by reference counting: the cycle
    # collector's passes over every new object would only slow it (measured: a tenth of its time).
    gc.disable()
    code = 0
    try:
        with os.fdopen(write_fd, "wb", buffering=_BUFFER) as pipe:
            try:
                for item in produce():
                    # Pickled whole before writing: an item that cannot be pickled fails below
                    # instead of leaving half an item in the pipe.
                    pipe.write(pickle.dumps((_ITEM, item), pickle.HIGHEST_PROTOCOL))
                    pipe.flush()  # each item goes out at once, not when the buffer is full
                message = (_END, None)
            except ServiceError as error:
                message = (_FAILED, ServiceError(error.message, error.field))
            except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the run
                message = (_FAILED, ChildFailed(f"{type(error).__name__}: {error}"))
            pickle.dump(message, pipe, pickle.HIGHEST_PROTOCOL)
    except BaseException:  # the parent went away (a broken pipe): nobody is left to tell
        code = 1
    finally:
        os._exit(code)

"""One indexer per library across machines in server mode: a lease kept in the Chroma server.

Chroma offers no compare-and-set on a record, but creating a collection is atomic on the server: of two clients
creating the same name, one gets it and the other an error. So the lease is a numbered collection,
``<prefix>-lease-<n>``, whose metadata names its owner and when it expires. The holder is the owner of the
highest number. To take the lease, a client reads the highest one; if it is held and not expired the client gets
``IndexBusy`` (with the owner's name), else it creates number n + 1, and only one creator of n + 1 succeeds. The
holder renews its expiry on a timer while it works and ends it on release; a killed indexer's lease simply expires,
and the next indexer takes number n + 1. Before it switches the live generation the holder checks that no higher
number exists (a fence: if it stalled past its expiry and another took over, its switch is refused). Expiry is
compared with each client's clock: machines sharing a server must keep their clocks in sync (NTP).

Local mode keeps its ``flock`` on the index folder (build.py); this module is used with ``store.chroma_url``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chromadb.errors import ChromaError

from assistant.errors import IndexBusy

log = logging.getLogger(__name__)
LEASE_INFIX = "-lease-"
DIGITS = 9


def owner_name() -> str:
    """Who holds the lease, as another machine's user reads it in ``IndexBusy``: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_names(client: Any, prefix: str) -> list[str]:
    """The lease collections of the library ``prefix``, lowest number first."""
    names = [getattr(c, "name", c) for c in client.list_collections()]
    return sorted(n for n in names if is_lease(prefix, n) and n.rsplit("-", 1)[-1].isdigit())


def is_lease(prefix: str, name: str) -> bool:
    """Whether a collection of ``prefix`` is a lease (garbage collection must leave it alone)."""
    return name.startswith(prefix + LEASE_INFIX)


class EngineLease:
    """The lease on one library (collection prefix) of a Chroma server; ``held`` is the context manager to use."""

    def __init__(self, client: Any, prefix: str, *, ttl_s: float, owner: str | None = None) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.owner = owner or owner_name()
        self.name: str | None = None  # the lease collection this client created, while it holds it

    def acquire(self) -> None:
        """Take the lease, or raise IndexBusy naming the holder."""
        names = lease_names(self.client, self.prefix)
        number = 0
        if names:
            latest = self.client.get_collection(names[-1])
            metadata = latest.metadata or {}
            expires = float(metadata.get("expires", 0))
            if expires > time.time():
                until = time.strftime("%H:%M:%S", time.localtime(expires))
                raise IndexBusy(
                    f"the Chroma server's library {self.prefix!r} (held by {metadata.get('owner', '?')} until {until} unless"
                    " renewed: the lease of an indexer that was killed runs out then)"
                )
            number = int(names[-1].rsplit("-", 1)[-1])
        name = f"{self.prefix}{LEASE_INFIX}{number + 1:0{DIGITS}d}"
        try:
            self.client.create_collection(name, metadata=self._metadata(), embedding_function=None)
        except (ChromaError, ValueError) as exc:  # another client created it first
            raise IndexBusy(f"the Chroma server's library {self.prefix!r} (taken at the same moment)") from exc
        self.name = name
        for old in names:  # expired or released leases: history nobody needs
            self._drop(old)

    def renew(self) -> None:
        if self.name is not None:
            self.client.get_collection(self.name).modify(metadata=self._metadata())

    def still_held(self) -> bool:
        """Whether no other indexer took over (a higher lease number exists once one has)."""
        names = lease_names(self.client, self.prefix)
        return self.name is not None and bool(names) and names[-1] == self.name

    def release(self) -> None:
        if self.name is not None and self.still_held():
            self.client.get_collection(self.name).modify(metadata={"owner": self.owner, "expires": 0.0})
        self.name = None

    @contextmanager
    def held(self) -> Iterator[EngineLease]:
        """Hold the lease for the block, renewing it every third of its time-to-live."""
        self.acquire()
        stop = threading.Event()

        def renew_until_stopped() -> None:
            while not stop.wait(self.ttl_s / 3):
                try:
                    self.renew()
                except (ChromaError, ValueError, OSError) as exc:  # the fence catches a lease lost meanwhile
                    log.warning("could not renew the index lease %s: %s", self.name, exc)

        renewer = threading.Thread(target=renew_until_stopped, name="index-lease", daemon=True)
        renewer.start()
        try:
            yield self
        finally:
            stop.set()
            renewer.join()
            self.release()

    def _metadata(self) -> dict[str, Any]:
        return {"owner": self.owner, "expires": time.time() + self.ttl_s}

    def _drop(self, name: str) -> None:
        try:
            self.client.delete_collection(name)
        except (ChromaError, ValueError) as exc:
            log.info("old lease %s not dropped: %s", name, exc)

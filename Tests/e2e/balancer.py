"""A TCP load balancer on loopback, as an operator puts one in front of the coordinator replicas: each connection
goes to the next backend (round robin) that is healthy and takes it, bytes copied both ways. A health check (a
callable per backend, run every half second) takes a backend out while it fails, as an HTTP load balancer's
check of /healthz does.

The same class stands between one replica and PostgreSQL, where `cut()` plays a broken network: every
connection through it is closed and new ones are dropped until `restore()`."""

import itertools
import socket
import threading
import time


class Balancer:
    def __init__(self, backends, health=None, host="127.0.0.1"):
        self.backends = list(backends)  # (host, port)
        self.health = health  # backend -> bool, or None: every backend is healthy
        self.healthy = set(self.backends)
        self.cut_off = False
        self.lock = threading.RLock()
        self.connections = set()
        self.turn = itertools.count()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()
        if health:
            threading.Thread(target=self._check, daemon=True).start()

    def cut(self):
        """Every connection through it closed, and new ones dropped, until `restore()`."""
        with self.lock:
            self.cut_off = True
            live = list(self.connections)
        for s in live:
            self._close(s)

    def restore(self):
        with self.lock:
            self.cut_off = False

    def close(self):
        self.closed.set()
        self.cut()
        self.listener.close()

    def _check(self):
        while not self.closed.is_set():
            for backend in self.backends:
                ok = False
                try:
                    ok = bool(self.health(backend))
                except Exception:
                    ok = False
                with self.lock:
                    (self.healthy.add if ok else self.healthy.discard)(backend)
            time.sleep(0.5)

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        with self.lock:
            if self.cut_off:
                self._close(client)
                return
            start = next(self.turn)
            order = [self.backends[(start + i) % len(self.backends)] for i in range(len(self.backends))]
            healthy = [b for b in order if b in self.healthy] or order
        upstream = None
        for backend in healthy:
            try:
                upstream = socket.create_connection(backend, timeout=2)
                upstream.settimeout(None)
                break
            except OSError:
                continue
        if upstream is None:
            self._close(client)
            return
        with self.lock:
            self.connections.update((client, upstream))
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        self._pump(upstream, client)

    def _pump(self, source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)

    def _close(self, s):
        with self.lock:
            self.connections.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it, which close() alone does not
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass

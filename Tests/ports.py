"""Free TCP ports for the servers the tests start, taken below the kernel's ephemeral range.

A port found by binding to port 0 comes from the ephemeral range, and the kernel may hand the same port to any
client connection opened before the server binds it: a clean-clone CI run lost a coordinator replica that way
("Address already in use" on a port the test had just found free). Ports below the range are never given to
client connections, so only another server can take them; ports handed out by this process are not handed out
twice, and the choice is random so that two test processes seldom try the same one.

Run as a script, it prints as many different ports as asked, one by default (scripts/test and
scripts/postgres-throwaway use it)."""

import random
import socket
import sys

LOWEST = 10000
_handed_out = set()


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port, addresses):
    try:
        for address in addresses:
            with socket.socket() as s:
                s.bind((address, port))
        return True
    except OSError:
        return False


def free_port(addresses=("127.0.0.1",)):
    """A TCP port that binds on every one of `addresses`, below the ephemeral range when there is room."""
    top = _ephemeral_start()
    if top - LOWEST >= 1000:
        for _ in range(1000):
            port = random.randrange(LOWEST, top)
            if port not in _handed_out and _bindable(port, addresses):
                _handed_out.add(port)
                return port
    for _ in range(100):  # no room below the range: the kernel's choice, which the race above can still catch
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port = s.getsockname()[1]
        if port not in _handed_out and _bindable(port, addresses):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no TCP port free on all of {', '.join(addresses)}")


if __name__ == "__main__":
    print(" ".join(str(free_port()) for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))

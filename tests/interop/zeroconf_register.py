"""Register a DNS-SD service with python-zeroconf until stdin closes.

Usage: zeroconf_register.py TYPE NAME PORT ADDRESS [KEY=VALUE ...]
Prints "registered <full name>" once the service is announced. The host name
is zeroconf-peer.local., or $PEER_HOST.local. when that is set.
"""

import os
import socket
import sys

from zeroconf import ServiceInfo, Zeroconf


def main() -> None:
    service_type, name, port, address, *pairs = sys.argv[1:]
    properties = dict(pair.split("=", 1) for pair in pairs)
    info = ServiceInfo(
        service_type,
        f"{name}.{service_type}",
        addresses=[socket.inet_aton(address)],
        port=int(port),
        properties=properties,
        server=f"{os.environ.get('PEER_HOST', 'zeroconf-peer')}.local.",
    )
    zc = Zeroconf()
    zc.register_service(info)
    print(f"registered {info.name}", flush=True)
    sys.stdin.read()
    zc.unregister_service(info)
    zc.close()


if __name__ == "__main__":
    main()

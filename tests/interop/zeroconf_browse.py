"""Browse a DNS-SD service type with python-zeroconf and print what resolves.

Usage: zeroconf_browse.py TYPE SECONDS
Prints one JSON object per resolved service: name, port, addresses, properties.
"""

import json
import sys
import time

from zeroconf import ServiceBrowser, ServiceListener, Zeroconf


class Printer(ServiceListener):
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        info = zc.get_service_info(type_, name, timeout=3000)
        if info is None or name in self.seen:
            return
        self.seen.add(name)
        record = {
            "name": name,
            "port": info.port,
            "server": info.server,
            "addresses": info.parsed_addresses(),
            "properties": {
                key.decode(): (value.decode() if value is not None else None)
                for key, value in info.properties.items()
            },
        }
        print(json.dumps(record), flush=True)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.add_service(zc, type_, name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        pass


def main() -> None:
    service_type, seconds = sys.argv[1], float(sys.argv[2])
    zc = Zeroconf()
    ServiceBrowser(zc, service_type, Printer())
    time.sleep(seconds)
    zc.close()


if __name__ == "__main__":
    main()

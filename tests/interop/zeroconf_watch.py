"""Watch a DNS-SD service type with python-zeroconf and print its events.

Usage: zeroconf_watch.py TYPE
Prints one JSON object per event, as python-zeroconf's ServiceBrowser reports
it: {"event": "added" | "updated" | "removed", "name": NAME}. Runs until
killed. The benchmarks use it as the third-party view of when a service
leaves.
"""

import json
import sys
import time

from zeroconf import ServiceBrowser, ServiceListener, Zeroconf


class Events(ServiceListener):
    def _say(self, event: str, name: str) -> None:
        print(json.dumps({"event": event, "name": name}), flush=True)

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._say("added", name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._say("updated", name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self._say("removed", name)


def main() -> None:
    zc = Zeroconf()
    ServiceBrowser(zc, sys.argv[1], Events())
    try:
        while True:
            time.sleep(3600)
    finally:
        zc.close()


if __name__ == "__main__":
    main()

"""``python -m magento_sim --host 127.0.0.1 --port 8301 --seed walkthrough``: run the simulator alone."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from magento_sim.app import MagentoSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="magento_sim", description="Magento 2.4 admin REST simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8301)
    parser.add_argument("--seed", default="walkthrough", choices=["walkthrough", "empty"])
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)  # also when started in the background with SIGINT ignored
    signal.signal(signal.SIGTERM, on_signal)
    sim = MagentoSimulator(args.host, args.port, seed=args.seed)
    url = sim.start()
    print(f"Magento simulator on {url}  (REST base {sim.rest_url})", flush=True)
    print(f"Integration bearer token: {sim.token}", flush=True)
    print("Ctrl-C to stop.", flush=True)
    while not stop.wait(0.5):
        pass
    sim.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()

"""``python -m acumatica_sim --host 127.0.0.1 --port 8201 --seed walkthrough``"""

from __future__ import annotations

import argparse
import signal
import threading

from acumatica_sim.app import AcumaticaSimulator
from acumatica_sim.config import SimConfig


def main() -> None:
    ap = argparse.ArgumentParser(prog="acumatica_sim", description="Acumatica ERP simulator (REST + push)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8201)
    ap.add_argument("--seed", default="walkthrough", choices=["walkthrough", "empty"])
    args = ap.parse_args()
    sim = AcumaticaSimulator(SimConfig(seed=args.seed), host=args.host, port=args.port)
    url = sim.start()
    print(f"Acumatica simulator listening on {url} (entity base {sim.entity_base})", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    sim.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()

"""`python -m sim --port 12111`: serve the simulator and print how to reach it.

The webhook secret comes from SIM_WEBHOOK_SECRET (generated if unset), never from the
command line, which every user on the machine can read in `ps`."""

from __future__ import annotations

import argparse
import os
import threading

import uvicorn

from sim.app import create_app
from sim.client import SimClient
from sim.signing import new_secret
from sim.state import SimState
from sim.testing import DEFAULT_API_KEY
from sim.versions import PREVIEW_DEFAULT


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", help="deliver events here as signed webhooks")
    parser.add_argument(
        "--api-version", default=PREVIEW_DEFAULT, help="API version events are rendered at"
    )
    parser.add_argument("--rate-limit", type=float, default=25.0, help="requests/s, 0 = off")
    args = parser.parse_args(argv)

    secret = os.environ.get("SIM_WEBHOOK_SECRET") or new_secret()
    state = SimState(rate_limit_per_second=args.rate_limit)
    app = create_app(state)
    base_url = f"http://{args.host}:{args.port}"
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    )

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.05)
        if args.webhook_url:
            SimClient(base_url).configure_webhooks(args.webhook_url, secret, args.api_version)
        print(f"sim listening on {base_url}", flush=True)
        print(f"STRIPE_API_BASE={base_url}", flush=True)
        print(f"STRIPE_API_KEY={DEFAULT_API_KEY}", flush=True)
        print(f"STRIPE_WEBHOOK_SECRET={secret}", flush=True)
        if args.webhook_url:
            print(f"webhooks -> {args.webhook_url} at {args.api_version}", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


if __name__ == "__main__":
    main()

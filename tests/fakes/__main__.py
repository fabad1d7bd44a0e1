"""Run the provider fakes in one process: ``python -m tests.fakes --calcom-port 8701 --retell-port 8702
[--seed-demo]``.

This is what the sandbox demo (``make run`` with HUB_SANDBOX=1) starts beside the web server, so the hub can be
shown and clicked through without real Cal.com or Retell accounts. It prints one line per fake, ``<name> fake:
<url>``, once both listen (port 0 picks a free port; the printed URL tells which), and stops cleanly on SIGTERM or
SIGINT, exiting 0.

``--seed-demo`` loads each fake's demo data and accepts the documented sandbox key as well as the test default:
``tests.fakes.calcom.SANDBOX_API_KEY`` and ``tests.fakes.retell.SANDBOX_API_KEY`` ("key_sandbox_demo"). Scenarios
can be switched from another process through each fake's ``POST /__fake/scenario``.

The access providers' fakes (Fitpass, Friction, Wellhub) start when their port is given (the sandbox uses
``--fitpass-port 8703 --friction-port 8704 --wellhub-port 8705``); they always hold their demo members, and
app.access.sandbox enables them at the demo location."""

import argparse
import signal
import sys
import threading


def parse_args(argv=None):
    """The command line: a port per fake, the host, and whether to seed the demo data."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes",
                                     description="Run the provider fakes of the sandbox demo in one process.")
    parser.add_argument("--calcom-port", type=int, default=8701, help="port of the Cal.com fake (0: any free one)")
    parser.add_argument("--retell-port", type=int, default=8702, help="port of the Retell fake (0: any free one)")
    for name in ("fitpass", "friction", "wellhub"):
        parser.add_argument(f"--{name}-port", type=int, default=None,
                            help=f"port of the {name.title()} access fake (0: any free one; not started without)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--seed-demo", action="store_true",
                        help="load the demo practice's data and accept the sandbox API keys")
    return parser.parse_args(argv)


def build_fakes(args):
    """The two fakes as (name, fake), configured but not started. The fake modules are imported here, not at the
    top, so ``--help`` works on its own."""
    from tests.fakes import calcom, retell

    fakes = []
    for name, module, fake_class, port in (("calcom", calcom, calcom.CalcomFake, args.calcom_port),
                                           ("retell", retell, retell.RetellFake, args.retell_port)):
        keys, seed = set(module.DEFAULT_KEYS), {}
        if args.seed_demo:
            keys.add(module.SANDBOX_API_KEY)
            seed = module.demo_seed()
        fakes.append((name, fake_class(port=port, valid_keys=keys, host=args.host, **seed)))
    # The access providers' fakes hold their demo members always (app.access.sandbox lists the codes).
    from tests.fakes import fitpass, friction, wellhub

    for name, fake_class, port in (("fitpass", fitpass.FitpassFake, args.fitpass_port),
                                   ("friction", friction.FrictionFake, args.friction_port),
                                   ("wellhub", wellhub.WellhubFake, args.wellhub_port)):
        if port is not None:
            fakes.append((name, fake_class(port=port, host=args.host)))
    return fakes


def main(argv=None):
    """Start both fakes, print their URLs, and wait for SIGTERM/SIGINT to stop them."""
    args = parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    started = []
    try:
        for name, fake in build_fakes(args):
            fake.start()
            started.append(fake)
            print(f"{name} fake: {fake.url}", flush=True)
        print("fakes ready; stop with Ctrl-C or SIGTERM", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for fake in reversed(started):
            fake.stop()
    print("fakes stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

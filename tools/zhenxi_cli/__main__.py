"""zhenxi: run the platform (up), test it (test), migrate, and call the services' pipelines from the shell
(ocr, xray, triage, interpret) without the stack."""
from __future__ import annotations

import argparse
import os
import runpy
import sys

from .topology import ROOT

# subcommand -> the service whose in-process CLI handles it
SERVICE_COMMANDS = {"ocr": "ocr", "xray": "xray", "triage": "nlp", "interpret": "nlp", "analyze": "report",
                    "create-user": "gateway"}


def _service_cli(command: str, argv: list[str]) -> int:
    target = SERVICE_COMMANDS[command]
    service_dir = ROOT / "gateway" if target == "gateway" else ROOT / "services" / target
    sys.path.insert(0, str(service_dir))
    os.environ.setdefault("ZHENXI_ENV", "dev")
    try:
        from app.cli import main  # type: ignore[import-not-found]
    except ImportError as exc:
        print(f"zhenxi: '{command}' is not available yet ({exc})", file=sys.stderr)
        return 2
    # nlp's CLI serves two commands and takes the command name first.
    return main([command, *argv] if SERVICE_COMMANDS[command] == "nlp" else argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SERVICE_COMMANDS:
        return _service_cli(argv[0], argv[1:])

    parser = argparse.ArgumentParser(prog="zhenxi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Postgres/Redis/NATS (or reuse them), migrate, run all services")
    up.add_argument("--public", action="store_true", help="listen on 0.0.0.0 for the gateway")
    test = sub.add_parser("test", help="run every suite against real Postgres, Redis and NATS")
    test.add_argument("suites", nargs="*", help="only these suites (libs, knowledge, gateway, ocr, ..., cross-service)")
    test.add_argument("--with-training", action="store_true",
                      help="also prepare .venv-train (CPU torch) so the fine-tuning end-to-end test runs")
    test.add_argument("--pytest-args", dest="pytest_args", nargs=argparse.REMAINDER, default=[])
    sub.add_parser("migrate", help="run every service's migrations")
    bench = sub.add_parser("bench", help="run a benchmark in bench/ (prints numbers)")
    bench.add_argument("name")
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    for name in SERVICE_COMMANDS:
        sub.add_parser(name, help=f"in-process {SERVICE_COMMANDS[name]} pipeline (see ./zhenxi {name} --help)")
    args = parser.parse_args(argv)

    if args.command == "up":
        from . import up

        return up.run(args)
    if args.command == "test":
        from . import testrun

        return testrun.run(args)
    if args.command == "migrate":
        from . import infra, up

        with infra.resolve() as inf:
            up.migrate_all(up.platform_env(inf))
        return 0
    if args.command == "bench":
        path = ROOT / "bench" / f"{args.name.removesuffix('.py')}.py"
        if not path.exists():
            parser.error(f"no benchmark {path.relative_to(ROOT)}")
        sys.argv = [str(path), *args.rest]
        runpy.run_path(str(path), run_name="__main__")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

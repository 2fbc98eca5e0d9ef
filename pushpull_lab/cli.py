"""``pushpull-lab`` / ``python -m pushpull_lab``: commands around the lab.

::

    pushpull-lab redis --port 6379     # a throwaway Redis on 127.0.0.1 for the room
    pushpull-lab version
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys


def _redis(args: argparse.Namespace) -> int:
    binary = shutil.which("redis-server")
    if binary is None:
        print(
            "pushpull-lab redis: no redis-server on PATH. Install it (Debian/Ubuntu: "
            "apt-get install redis-server; conda: conda install -c conda-forge redis-server), "
            "or use the lab without one (backend 'memory' or 'fakeredis').",
            file=sys.stderr,
        )
        return 1
    if not 1 <= args.port <= 65535:
        print(f"pushpull-lab redis: --port {args.port}: port must be 1..65535", file=sys.stderr)
        return 2
    print(f"Redis on redis://127.0.0.1:{args.port}/0 (no persistence; Ctrl+C stops it)", flush=True)
    command = [binary, "--bind", "127.0.0.1", "--port", str(args.port), "--save", "", "--appendonly", "no"]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 0


def _version(args: argparse.Namespace) -> int:
    from . import __version__

    print(f"pushpull-lab {__version__} on Python {sys.version.split()[0]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pushpull-lab", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    redis = commands.add_parser("redis", help="run a throwaway Redis server on 127.0.0.1")
    redis.add_argument("--port", type=int, default=6379, help="TCP port (default 6379)")
    redis.set_defaults(run=_redis)
    version = commands.add_parser("version", help="print the versions")
    version.set_defaults(run=_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

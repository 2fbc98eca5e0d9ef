"""``pushpull-lab`` / ``python -m pushpull_lab``: commands around the lab.

::

    pushpull-lab redis --port 6379     # a throwaway Redis on 127.0.0.1 for the room
    pushpull-lab worker --redis redis://127.0.0.1:6379/0 --queue video --concurrency 4 \\
        --processor mypkg.tasks:transcode   # a worker process pulling from a shared queue
    pushpull-lab doctor                # is this machine ready? every problem with its fix
    pushpull-lab version
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any


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
    if not 1 <= args.databases <= 10_000:
        print(f"pushpull-lab redis: --databases {args.databases}: must be 1..10000", file=sys.stderr)
        return 2
    print(
        f"Redis on redis://127.0.0.1:{args.port}/0 .. /{args.databases - 1} "
        "(one database per learner; no persistence; Ctrl+C stops it)",
        flush=True,
    )
    command = [binary, "--bind", "127.0.0.1", "--port", str(args.port), "--save", "", "--appendonly", "no"]
    command += ["--databases", str(args.databases)]
    server = subprocess.Popen(command)
    # Pass SIGINT/SIGTERM on to the server and wait for it to stop: killed without this, the
    # Python process would leave an orphaned redis-server running (holding its port and our stdout).
    forwarded = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: nothing to forward
            forwarded[sig] = signal.signal(sig, lambda signum, _frame: server.send_signal(signum))
    try:
        code = server.wait()
    finally:
        for sig, handler in forwarded.items():
            signal.signal(sig, handler)
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
    return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM) else code


def _worker(args: argparse.Namespace) -> int:
    from .process import WorkerOptions, run_worker

    processor_spec, processor = args.processor
    options = WorkerOptions(
        redis=args.redis,
        queue=args.queue,
        processor=processor,
        processor_spec=processor_spec,
        concurrency=args.concurrency,
        lock_duration=args.lock_duration,
        name=args.name,
        report_every=args.report_every,
        shutdown_timeout=args.shutdown_timeout,
    )
    return run_worker(options)


def _option(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type=`` from a check in :mod:`pushpull_lab.process`: a bad value becomes
    a usage error (exit 2) naming the option, the value and what is allowed."""

    def convert(text: str) -> Any:
        from .process import OptionError

        try:
            return check(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = check.__name__
    return convert


def _processor(spec: str) -> tuple[str, Callable]:
    from .process import load_processor

    return spec, load_processor(spec)


def _add_worker(commands: Any) -> None:
    from . import process

    worker = commands.add_parser(
        "worker",
        help="run a worker process that pulls jobs from a queue on a Redis server",
        description=(
            "Run a Worker that pulls jobs from QUEUE on the Redis server at URL until SIGINT or "
            "SIGTERM, then finish the jobs in hand and exit 0 (a second signal stops at once). "
            "Start several, on one machine or many: they share the queue."
        ),
    )
    worker.add_argument(
        "--redis",
        required=True,
        metavar="URL",
        type=_option(process.check_redis_url),
        help="the Redis server, a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0",
    )
    worker.add_argument(
        "--queue",
        required=True,
        metavar="NAME",
        type=_option(process.check_queue),
        help="the queue to pull from (letters, digits, '_', '-', '.')",
    )
    worker.add_argument(
        "--concurrency",
        default=1,
        metavar="N",
        type=_option(process.check_concurrency),
        help="jobs processed at once (integer >= 1; default 1)",
    )
    worker.add_argument(
        "--processor",
        default=process.DEFAULT_PROCESSOR,
        metavar="MODULE:FUNCTION",
        type=_option(_processor),
        help=(
            "the function called with each job, sync or async, e.g. mypkg.tasks:process; the "
            f"current directory is searched too (default {process.DEFAULT_PROCESSOR}: returns job.data)"
        ),
    )
    worker.add_argument(
        "--lock-duration",
        default=30.0,
        metavar="S",
        type=_option(process.check_seconds),
        help="seconds a job stays locked without a heartbeat before another worker may take it (default 30)",
    )
    worker.add_argument(
        "--name",
        default=None,
        type=_option(process.check_worker_name),
        help="the worker's name in its output and trace (default worker-<pid>)",
    )
    worker.add_argument(
        "--report-every",
        default=5.0,
        metavar="S",
        type=_option(lambda text: process.check_seconds(text, allow_zero=True)),
        help="print a summary line every S seconds when something changed; 0: only at the end (default 5)",
    )
    worker.add_argument(
        "--shutdown-timeout",
        default=None,
        metavar="S",
        type=_option(lambda text: process.check_seconds(text, allow_zero=True)),
        help=(
            "on SIGINT/SIGTERM, wait at most S seconds for the jobs in hand, then give the rest "
            "back to the queue (default: wait as long as they take)"
        ),
    )
    worker.set_defaults(run=_worker)


def _doctor(args: argparse.Namespace) -> int:
    from . import doctor

    findings = doctor.run(kernel=not args.no_kernel, redis_url=args.redis)
    print(doctor.report(findings))
    return 1 if any(f.status == "fail" for f in findings) else 0


def _version(args: argparse.Namespace) -> int:
    from . import __version__

    print(f"pushpull-lab {__version__} on Python {sys.version.split()[0]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pushpull-lab", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    redis = commands.add_parser("redis", help="run a throwaway Redis server on 127.0.0.1")
    redis.add_argument("--port", type=int, default=6379, help="TCP port (default 6379)")
    redis.add_argument(
        "--databases",
        type=int,
        default=16,
        metavar="N",
        help="numbered databases, one per learner in a workshop: redis://.../0 to /N-1 (default 16)",
    )
    redis.set_defaults(run=_redis)
    _add_worker(commands)
    doctor = commands.add_parser(
        "doctor",
        help="check that this machine is ready for the lab, and say how to fix what is not",
        description=(
            "Check Python and package versions, the ipywidgets extension in JupyterLab, that a "
            "python3 kernel starts and imports the lab, and (optional) Redis and Chromium. "
            "Exit 1 if something the lab needs is missing."
        ),
    )
    doctor.add_argument("--no-kernel", action="store_true", help="skip starting a kernel (the slow check)")
    doctor.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="the Redis server to try (default $PUSHPULL_REDIS_URL or redis://127.0.0.1:6379/0)",
    )
    doctor.set_defaults(run=_doctor)
    version = commands.add_parser("version", help="print the versions")
    version.set_defaults(run=_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

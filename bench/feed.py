"""Generate a stream and publish it to a broker, in a process of its own.

    python -m bench.feed --port PORT [--devices N] [--messages N] [--qos 0|1] [--seed S]

The measuring process stays lean: generating 200,000 messages from 10,000 simulated devices
leaves hundreds of MB of heap behind, which would blur the measured process's RSS and its
garbage collector's work. Progress goes to stderr; the last stdout line is a JSON summary
(``StreamInfo`` plus the publish figures).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence

from bench.publish import publish_stream
from bench.stream import MALFORMED_SHARE, generate

_T0 = time.monotonic()


def _note(message: str) -> None:
    print(f"[feed {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.feed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--qos", type=int, choices=(0, 1), default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--malformed-share", type=float, default=MALFORMED_SHARE)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    progress = None if args.quiet else _note

    stream = generate(
        args.devices,
        args.messages,
        malformed_share=args.malformed_share,
        seed=args.seed,
        timeout_s=args.timeout,
        progress=progress,
    )
    info = stream.info
    if progress is not None:
        progress(
            f"stream ready in {info.generate_s:.1f}s: {info.total:,} messages, "
            f"valid {info.valid_by_kind}, malformed {info.malformed_by_reason}, "
            f"elevator payload {info.elevator_payload_mean:.0f} B; publishing at QoS {args.qos}"
        )
    published = publish_stream(
        args.host,
        args.port,
        stream.messages,
        qos=args.qos,
        timeout_s=args.timeout,
        progress=progress,
    )
    if progress is not None:
        progress(f"published in {published.seconds:.1f}s ({published.rate:,.0f} msg/s)")
    summary = {
        "stream": info.as_dict(),
        "publish": {
            "messages": published.published,
            "seconds": round(published.seconds, 3),
            "msg_per_s": round(published.rate),
        },
        "feeder_peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

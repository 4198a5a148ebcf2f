"""Every benchmark, one table: ``python -m bench.run_all [--smoke] [--no-write]``.

For now that is the ingest benchmark (bench/ingest.py) at QoS 0 with its defaults.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench import ingest
from bench.report import Row, append_result, results_path, table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all")
    parser.add_argument("--smoke", action="store_true", help="small sizes, accounting only")
    parser.add_argument("--no-write", action="store_true", help="do not write results files")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    ok = True

    params, _ = ingest.parse_args(["--smoke"] if args.smoke else [])
    result = ingest.run_ingest(params, progress=ingest.make_progress())
    print(ingest.summary(result, with_table=False), end="\n\n", flush=True)
    rows.append(result.row())
    ok &= result.accounting_ok and result.finished
    if not (args.smoke or args.no_write):
        path = results_path("ingest")
        append_result(path, result.as_dict())
        print(f"results appended to {path}")

    print(table(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

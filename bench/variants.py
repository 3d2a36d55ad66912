"""Markup-variant harness counts: renditions that hold, per site, per transform family, per fixture.

    python bench/variants.py [--seeds 30] [--site almayadeen] [--family rename-all] [--only crimea] [-v]

Each site fixture is re-rendered by seeded lxml transforms (tests/variants/transforms.py) and the parse of
every rendition is held to the original's parse (tests/variants/harness.py). ``-v`` prints the first
problem of each failing (fixture, family).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from variants import harness  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30, help="renditions per fixture and family (default 30)")
    ap.add_argument("--site", action="append", help="almayadeen or blogger (default both)")
    ap.add_argument("--family", action="append", choices=list(harness.FAMILIES))
    ap.add_argument("--only", help="fixtures whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    start = time.perf_counter()
    outcomes = harness.run(
        seeds=args.seeds,
        families=tuple(args.family) if args.family else None,
        sites=tuple(args.site) if args.site else harness.HARNESS_SITES,
        only=args.only,
    )
    elapsed = time.perf_counter() - start
    by_family = harness.tally(outcomes, lambda o: (o.fixture.site, o.family))
    by_fixture = harness.tally(outcomes, lambda o: (o.fixture.site, o.fixture.name))
    sites = sorted({s for s, _ in by_family})
    print(f"{len(outcomes)} renditions, {sum(o.held for o in outcomes)} held ({elapsed:.0f} s, seeds={args.seeds})")
    print()
    print("| family | " + " | ".join(sites) + " |")
    print("|---|" + "---|" * len(sites))
    for family in harness.FAMILIES:
        cells = []
        for site in sites:
            held, total = by_family.get((site, family), (0, 0))
            cells.append(f"{held}/{total}" if total else "n/a")
        print(f"| {family} | " + " | ".join(cells) + " |")
    print()
    print("| fixture | held/total |")
    print("|---|---|")
    for (site, name), (held, total) in sorted(by_fixture.items()):
        print(f"| {site}/{name} | {held}/{total} |")
    if args.verbose:
        print()
        for (name, family), problem in sorted(harness.first_problem(outcomes).items()):
            print(f"- {name} [{family}] {problem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

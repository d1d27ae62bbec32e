"""Fetch Plotly.js's cartesian bundle for the dashboard (part of scripts/setup.sh).

The dashboard draws every chart with Plotly.js in the browser. The full bundle the ``plotly``
package ships (4.6 MB) takes about a second to parse and start in each new tab on a busy 2-core
machine; the cartesian bundle (1.5 MB: scatter, bar, heatmap, contour, histogram, box, violin,
pie, image; the only trace types rbt draws) a third of that. npm's registry publishes it as
``plotly.js-cartesian-dist-min``; this fetches the release that matches the installed
``plotly`` package's Plotly.js into ``app/static/`` (not committed). Without npm or the network
the dashboard serves the full bundle instead (app/plot_element.py), so nothing breaks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def main() -> int:
    from plotly.offline import get_plotlyjs_version

    version = get_plotlyjs_version()
    target = STATIC / f"plotly-cartesian-{version}.min.js"
    if target.is_file():
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print("note: npm not found; the dashboard will serve Plotly.js's full bundle "
              "(slower to start in each new tab)", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run([npm, "pack", f"plotly.js-cartesian-dist-min@{version}", "--silent"],
                             cwd=tmp, capture_output=True, text=True, timeout=300)
        packs = list(Path(tmp).glob("*.tgz"))
        if got.returncode or not packs:
            print(f"note: npm could not fetch plotly.js-cartesian-dist-min@{version} "
                  f"({got.stderr.strip()[-300:]}); the dashboard will serve Plotly.js's full "
                  "bundle", file=sys.stderr)
            return 0
        with tarfile.open(packs[0]) as tar:
            member = tar.getmember("package/plotly-cartesian.min.js")
            data = tar.extractfile(member).read()
    STATIC.mkdir(exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(data)
    partial.replace(target)
    print(f"fetched {target.name} ({len(data) / 1e6:.1f} MB) into {STATIC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

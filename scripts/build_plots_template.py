"""Build the offline HTML template for `dvc plots show/diff`: .dvc/plots/offline.html.

DVC's default page loads vega, vega-lite and vega-embed from cdn.jsdelivr.net, so it is blank
without network. This script inlines the minified builds of the three libraries into one
template that DVC fills instead (`.dvc/config`: `plots.html_template = plots/offline.html`,
relative to `.dvc/`). The template has no `{scripts}` placeholder, so DVC's CDN tags are dropped.

    python3 scripts/build_plots_template.py                  # npm pack the pinned versions (network)
    python3 scripts/build_plots_template.py --tarballs DIR   # use vega-*.tgz already in DIR

Versions: DVC 3.67 (dvc-render 1.0.2) targets vega 5.20.2, vega-lite 5.2.0 and vega-embed 6.18.2;
we pin the newest releases of the same major versions (vega-lite 5.23 needs vega >= 5.24; vega
5.23+ fixes CVE-2023-26486/26487). The page also wraps `vegaEmbed` so every plot renders as SVG
(countable in the DOM: tests/test_plots_browser.py), without the online "Open in Vega Editor"
action, and marks each plot's div with data-plot-status="rendered" or "error" (the error is
printed under the plot). Rebuild after changing the versions; the output is deterministic.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / ".dvc" / "plots" / "offline.html"

# (npm package, version, file inside the tarball); loaded in this order (vega-lite and
# vega-embed read the globals `vega` and `vegaLite` defined by the scripts before them).
PACKAGES = [
    ("vega", "5.33.1", "package/build/vega.min.js"),
    ("vega-lite", "5.23.0", "package/build/vega-lite.min.js"),
    ("vega-embed", "6.29.0", "package/build/vega-embed.min.js"),
]
# dvc_render.html.HTML.embed() replaces these anywhere in the template, scripts included.
DVC_PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")

LICENSE = """vega, vega-lite and vega-embed: Copyright (c) 2015, University of Washington Interactive
Data Lab. All rights reserved. BSD-3-Clause: Redistribution and use in source and binary forms,
with or without modification, are permitted provided that the following conditions are met:
1. Redistributions of source code must retain the above copyright notice, this list of conditions
and the following disclaimer. 2. Redistributions in binary form must reproduce the above copyright
notice, this list of conditions and the following disclaimer in the documentation and/or other
materials provided with the distribution. 3. Neither the name of the copyright holder nor the names
of its contributors may be used to endorse or promote products derived from this software without
specific prior written permission. THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND
CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO
EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING
NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE. vega-embed bundles fast-json-patch (MIT), json-stringify-pretty-compact
(MIT), semver (ISC), tslib (0BSD), vega-interpreter, vega-schema-url-parser, vega-themes and
vega-tooltip (BSD-3-Clause, same authors)."""

# Runs after the libraries and before DVC's plot divs (each div calls vegaEmbed('#id', spec)).
EMBED_WRAPPER = """(function () {
  "use strict";
  var embed = window.vegaEmbed;
  var pending = 0, parsed = false;
  function settle() {
    if (parsed && pending === 0) document.documentElement.setAttribute("data-plots-done", "true");
  }
  function offlineEmbed(el, spec, opts) {
    var target = typeof el === "string" ? document.querySelector(el) : el;
    var options = Object.assign({
      renderer: "svg",
      actions: {export: true, source: true, compiled: false, editor: false}
    }, opts || {});
    pending += 1;
    return embed(el, spec, options).then(function (result) {
      if (target) target.setAttribute("data-plot-status", "rendered");
      pending -= 1; settle();
      return result;
    }, function (error) {
      if (target) {
        target.setAttribute("data-plot-status", "error");
        var pre = document.createElement("pre");
        pre.className = "plot-error";
        pre.textContent = "plot failed: " + (error && error.message ? error.message : error);
        target.appendChild(pre);
      }
      pending -= 1; settle();
      throw error;
    });
  }
  Object.keys(embed).forEach(function (key) { offlineEmbed[key] = embed[key]; });
  window.vegaEmbed = offlineEmbed;
  document.addEventListener("DOMContentLoaded", function () { parsed = true; settle(); });
})();"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>gx1 plots</title>
<!--
Offline template for `dvc plots show/diff`, generated by scripts/build_plots_template.py (do not edit
by hand). Inlined: {inlined}.
{license}
-->
<style>
  body {{ font-family: sans-serif; margin: 16px; color: #222; }}
  header {{ font-size: 13px; color: #666; margin-bottom: 8px; }}
  .gx1-plots {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, max-content)); gap: 24px; }}
  .plot-error {{ color: #b00020; white-space: pre-wrap; max-width: 480px; }}
  table {{ border-spacing: 15px; }}
</style>
{scripts}
</head>
<body>
<header>gx1 &middot; dvc plots (vega {vega}, vega-lite {vega_lite}, vega-embed {vega_embed}, inlined: works offline)</header>
<div class="gx1-plots">
{{plot_divs}}
</div>
</body>
</html>
"""


def _npm_pack(directory: Path) -> None:
    specs = [f"{name}@{version}" for name, version, _ in PACKAGES]
    subprocess.run(["npm", "pack", "--silent", *specs], cwd=directory, check=True,
                   stdout=subprocess.DEVNULL)


def _read_build(tarballs: Path, name: str, version: str, member: str) -> str:
    archive = tarballs / f"{name}-{version}.tgz"
    if not archive.is_file():
        raise SystemExit(f"missing {archive} (run: npm pack {name}@{version})")
    with tarfile.open(archive, "r:gz") as tar:
        meta = json.load(io.TextIOWrapper(tar.extractfile("package/package.json"), encoding="utf-8"))
        if meta.get("name") != name or meta.get("version") != version:
            raise SystemExit(f"{archive}: package.json says {meta.get('name')}@{meta.get('version')}")
        source = tar.extractfile(member).read().decode("utf-8")
    source = re.sub(r"\n//# sourceMappingURL=\S*\s*$", "\n", source)
    source = re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)
    for placeholder in DVC_PLACEHOLDERS:
        if placeholder in source:
            raise SystemExit(f"{name}@{version} contains {placeholder!r}, which DVC would replace")
    return source.strip()


def build(tarballs: Path) -> str:
    scripts, inlined = [], []
    for name, version, member in PACKAGES:
        source = _read_build(tarballs, name, version, member)
        digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
        inlined.append(f"{name}@{version} {member.removeprefix('package/')} (sha256 {digest[:16]})")
        scripts.append(f"<script>/* {name}@{version} */\n{source}\n</script>")
    scripts.append(f"<script>\n{EMBED_WRAPPER}\n</script>")
    versions = {name.replace("-", "_"): version for name, version, _ in PACKAGES}
    return PAGE.format(inlined="; ".join(inlined), license=LICENSE, scripts="\n".join(scripts), **versions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarballs", type=Path, help="directory holding the npm pack tarballs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tarballs = args.tarballs
        if tarballs is None:
            tarballs = Path(tmp)
            _npm_pack(tarballs)
        page = build(tarballs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"wrote {args.out} ({len(page.encode('utf-8')):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

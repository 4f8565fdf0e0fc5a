"""`dvc plots show` and `dvc plots diff` pages render in a browser with no network (issue 13).

In a temporary git repo holding this project's dvc.yaml, params.yaml, .dvc/config and .dvc/plots/
(the offline HTML template and the custom vega-lite templates) plus small hand-made TSVs for every
file the top-level `plots:` read, committed as two runs (tags runA and runB), the test runs
`dvc plots show` and `dvc plots diff runA runB`, loads each index.html in headless chromium with
name resolution and proxying switched off, and reads back the DOM:

  * the page holds exactly the top-level plots of dvc.yaml (a stage-level `plots:` output would
    add a plot of its own), and loads no script, stylesheet or image from anywhere;
  * every plot rendered (the template's vegaEmbed wrapper marks its div data-plot-status="rendered"
    and draws with the SVG renderer, so marks are elements in the DOM) and drew its data: line
    plots one polyline (>= 2 vertices) per y field and run, scatter plots one symbol per row and
    run, any other template at least one data mark;
  * on the diff page every plot shows both runs, each in its own colour.

Chromium: Debian's `chromium` package (`apt-get install -y chromium`), or GX1_CHROMIUM=/path.
The test is skipped when no chromium is found. Run: python3 -m pytest -q tests/test_plots_browser.py
(about 30 s). After changing the top-level plots, add sample rows for any new data file to SAMPLES.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180
RUNS = ("runA", "runB")
LINE_TEMPLATES = {"linear", "smooth", "simple", "loss_smooth"}
SCATTER_TEMPLATES = {"scatter", "scatter_jitter"}
# Elements and attributes through which a page fetches something by itself; the offline page has none.
LOADING_TAGS = {"script", "link", "img", "iframe", "embed", "object", "source", "audio", "video", "frame"}
LOADING_ATTRS = {"src", "href", "data", "srcset"}


# ---------------------------------------------------------------- sample data (columns as written by gx1)

def _train_steps(run: int) -> tuple[list[str], list[list]]:
    rng = random.Random(run)
    rows = []
    for step in range(1, 121):
        trend = 1.6 - (0.15 + 0.05 * run) * step / 120
        heads = [0.693 - 0.01 * step / 120, 0.69 - 0.1 * step / 120, 1.1 - 0.05 * step / 120]
        rows.append([step, 1 + (step - 1) // 40, round(trend + rng.gauss(0, 0.06), 5),
                     *(round(h + rng.gauss(0, 0.02), 5) for h in heads), round(abs(rng.gauss(0.3, 0.1)), 5)])
    return ["step", "epoch", "loss", "loss_direction", "loss_early_move", "loss_quality", "grad_norm"], rows


def _train_epochs(run: int) -> tuple[list[str], list[list]]:
    rows = [[epoch, round(1.55 - (0.04 + 0.02 * run) * epoch, 5), round(0.693 - 0.003 * epoch, 5),
             round(0.65 - 0.03 * epoch, 5), round(1.08 - 0.01 * epoch * run, 5), 0.3, 0.5, 0.9, 0.51, 2531, 40]
            for epoch in (1, 2, 3)]
    return ["epoch", "loss_mean", "loss_direction_mean", "loss_early_move_mean", "loss_quality_mean",
            "grad_norm_mean", "grad_norm_p95", "grad_norm_max", "y_dir_mean", "samples", "steps"], rows


def _trades(run: int) -> tuple[list[str], list[list]]:
    rng = random.Random(100 + run)
    rows = []
    for trade in range(1, 7 + run):
        mae, mfe = round(rng.uniform(1, 20), 3), round(rng.uniform(1, 25), 3)
        rows.append([trade, rng.choice(["long", "short"]), mae, mfe, round(mae / 8, 4), round(mfe / 8, 4)])
    return ["trade", "side", "mae_bps", "mfe_bps", "mae_atr", "mfe_atr"], rows


def _cumulative(run: int) -> tuple[list[str], list[list]]:
    rng = random.Random(200 + run)
    candidates = trades = 0
    rows = []
    for bar in range(200):
        if rng.random() < 0.1 * run:
            candidates += 1
            trades += rng.random() < 0.4
        minutes = 22 * 60 + 5 * bar
        rows.append([bar, f"2025-12-{25 + minutes // 1440:02d}T{minutes % 1440 // 60:02d}:{minutes % 60:02d}:00Z",
                     candidates, trades])
    return ["bar", "time", "cumulative_candidates", "cumulative_trades"], rows


def _quality(run: int) -> tuple[list[str], list[list]]:
    return ["figure", "value"], [["direction_auc", 0.52 + 0.01 * run], ["direction_auc_baseline", 0.55],
                                 ["early_move_auc", 0.53 + 0.005 * run], ["quality_corr", 0.05 * run]]


def _equity(run: int) -> tuple[list[str], list[list]]:
    rng = random.Random(300 + run)
    model = baseline = 0.0
    rows = []
    for bar in range(200):
        model += rng.gauss(0.1 * run, 2) if rng.random() < 0.05 else 0.0
        baseline += rng.gauss(0.05, 2) if rng.random() < 0.1 else 0.0
        minutes = 22 * 60 + 5 * bar
        rows.append([bar, f"2025-12-{25 + minutes // 1440:02d}T{minutes % 1440 // 60:02d}:{minutes % 60:02d}:00Z",
                     round(model, 6), round(baseline, 6)])
    return ["bar", "time", "model_net_bps", "baseline_net_bps"], rows


def _reliability(run: int) -> tuple[list[str], list[list]]:
    return (["bin", "lower", "upper", "count", "mean_predicted", "realised_rate"],
            [[b, b / 10, (b + 1) / 10, 100 * b, round(b / 10 + 0.05, 4), round(b / 10 + 0.02 * run, 4)] for b in (3, 4, 5, 6)])


SAMPLES = {
    "reports/replay/equity.tsv": _equity,
    "reports/replay/reliability.tsv": _reliability,
    "reports/replay/quality.tsv": _quality,
    "reports/train/train_steps.tsv": _train_steps,
    "reports/train/train_epochs.tsv": _train_epochs,
    "reports/replay/trades_mae_mfe.tsv": _trades,
    "reports/replay/cumulative.tsv": _cumulative,
}


# ---------------------------------------------------------------- the plot definitions under test

def top_level_plots() -> dict[str, dict]:
    """{plot id: definition} from dvc.yaml's top-level `plots:` (each a y-dict definition)."""
    plots = {}
    for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text()).get("plots") or []:
        assert isinstance(entry, dict) and len(entry) == 1, f"top-level plot given as a bare path: {entry!r}"
        (plot_id, definition), = entry.items()
        assert isinstance((definition or {}).get("y"), dict), \
            f"plot {plot_id}: y must map data files to fields (y: {{file: [fields]}})"
        plots[plot_id] = definition
    assert plots, "dvc.yaml has no top-level plots"
    return plots


def y_fields(definition: dict) -> dict[str, list[str]]:
    return {path: [fields] if isinstance(fields, str) else list(fields) for path, fields in definition["y"].items()}


def html_template_path() -> Path:
    """The template the committed .dvc/config names (DVC reads a relative path from .dvc/)."""
    from configobj import ConfigObj  # a dependency of dvc

    value = ConfigObj(str(ROOT / ".dvc" / "config")).get("plots", {}).get("html_template")
    assert value, ".dvc/config must set plots.html_template (docs/experiments.md, Plots)"
    path = Path(value)
    return path if path.is_absolute() else (ROOT / ".dvc" / path).resolve()


# ---------------------------------------------------------------- helpers

def _dvc_env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(state / "site-cache"),
                "DVC_GLOBAL_CONFIG_DIR": str(state / "global-config"),
                "DVC_SYSTEM_CONFIG_DIR": str(state / "system-config")})
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _chromium() -> str | None:
    configured = os.environ.get("GX1_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _write_samples(repo: Path, plots: dict[str, dict], run: int) -> dict[str, int]:
    """Write every data file the plots read; return {path: number of rows}."""
    written = {}
    for plot_id, definition in plots.items():
        for path, fields in y_fields(definition).items():
            assert path in SAMPLES, f"plot {plot_id} reads {path}: add sample rows for it to SAMPLES in {__file__}"
            header, rows = SAMPLES[path](run)
            missing = [f for f in [definition.get("x"), *fields] if isinstance(f, str) and f not in header]
            assert not missing, f"plot {plot_id}: {path} has no column {missing} (sample header: {header})"
            target = repo / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n".join("\t".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")
            written[path] = len(rows)
    return written


def render_dom(chromium: str, page: Path, profile: Path) -> str:
    """The DOM of `page` after 10 s of virtual time, with no name resolution and a dead proxy."""
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9", "--window-size=1400,1100",
            "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0 and "</html>" in result.stdout, \
        f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result.stdout


def external_loads(html: str) -> list[str]:
    """Tags of the page (not text inside scripts) that would fetch a resource, e.g. DVC's CDN <script src>."""
    found = []

    class _Loads(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(f"<{tag} {k}={v!r}>" for k, v in attrs if tag in LOADING_TAGS and k in LOADING_ATTRS)

    _Loads().feed(html)
    return found


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: "Node | None"):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, attrs, parent, [], ""

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class _TreeBuilder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.node)
        self.node.children.append(node)
        if tag not in self.VOID:
            self.node = node

    def handle_startendtag(self, tag, attrs):
        self.node.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.node))

    def handle_endtag(self, tag):
        node = self.node
        while node.parent is not None and node.tag != tag:
            node = node.parent
        if node.parent is not None:
            self.node = node.parent

    def handle_data(self, data):
        self.node.text += data


def parse_dom(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _vertices(d: str) -> int:
    return len(re.findall(r"[MLml]", d))


def _aria_rev(node: Node) -> str | None:
    match = re.search(r"(?:^|; )rev: ([^;]+)", node.attrs.get("aria-label", ""))
    return match.group(1) if match else None


def check_page(html: str, plots: dict[str, dict], rows: dict[str, dict[str, int]]) -> None:
    """rows: {run on the page: {data file: number of rows}}."""
    revs = list(rows)
    dom = parse_dom(html)
    divs = {n.attrs["id"]: n for n in dom.walk() if n.attrs.get("data-plot-status") is not None}
    expected = {re.sub(r"[!@#$%^&*()\[\]{};,<>?\\/:.|`~=_+ ]", "_", plot_id) for plot_id in plots}
    assert set(divs) == expected, f"plots on the page {sorted(divs)} != dvc.yaml's top-level plots {sorted(expected)}"
    for plot_id, definition in plots.items():
        div = divs[plot_id]
        errors = [n.text for n in div.walk() if "plot-error" in n.classes()]
        assert div.attrs["data-plot-status"] == "rendered" and not errors, f"{plot_id} failed: {errors}"
        assert any(n.tag == "svg" for n in div.walk()), f"{plot_id}: no SVG drawn"
        marks = [n for n in div.walk() if n.tag == "g" and "role-mark" in n.classes()]
        lines = [p for g in marks if "mark-line" in g.classes() for p in g.children
                 if p.tag == "path" and _vertices(p.attrs.get("d", "")) >= 2]
        symbols = [p for g in marks if "mark-symbol" in g.classes() for p in g.children
                   if p.tag == "path" and p.attrs.get("d")]
        drawn = lines + symbols + [p for g in marks if g.classes() & {"mark-rect", "mark-area", "mark-arc"}
                                   for p in g.children if p.tag == "path" and p.attrs.get("d")]
        template = definition.get("template", "linear")
        series = sum(len(fields) for fields in y_fields(definition).values()) * len(revs)
        if template in LINE_TEMPLATES:
            assert len(lines) >= series, f"{plot_id}: {len(lines)} polylines drawn, expected >= {series}"
            shown = lines
        elif template in SCATTER_TEMPLATES:
            points = sum(rows[rev][path] * len(fields) for rev in revs for path, fields in y_fields(definition).items())
            assert len(symbols) == points, f"{plot_id}: {len(symbols)} points drawn, expected {points}"
            shown = symbols
        else:  # e.g. a bar chart added later: at least one data mark
            assert drawn, f"{plot_id}: no data mark drawn"
            shown = drawn
        shown_revs = {_aria_rev(p) for p in shown} - {None}
        assert shown_revs == set(revs), f"{plot_id}: marks for runs {sorted(shown_revs)}, expected {revs}"
        if len(revs) > 1:
            colours = {rev: {p.attrs.get("stroke") or p.attrs.get("fill") for p in shown if _aria_rev(p) == rev}
                       for rev in revs}
            for rev, other in zip(revs, revs[1:]):
                assert not colours[rev] & colours[other], f"{plot_id}: runs {rev} and {other} share colours {colours}"


# ---------------------------------------------------------------- tests

def test_offline_template_is_configured_and_self_contained():
    """Cheap and browser-free: the configured template exists, inlines everything, fits in 1 MB."""
    template = html_template_path()
    assert template.is_file(), f"plots.html_template names {template}, which does not exist"
    text = template.read_text(encoding="utf-8")
    assert "{plot_divs}" in text, "DVC needs the {plot_divs} placeholder"
    assert "{scripts}" not in text, "{scripts} would bring back DVC's CDN <script src> tags"
    assert not external_loads(text), external_loads(text)
    for library in ("vega@5", "vega-lite@5", "vega-embed@6"):
        assert f"/* {library}." in text, f"{library} is not inlined (scripts/build_plots_template.py)"
    assert len(text.encode("utf-8")) < 1_000_000


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_plots_show_and_diff_render_offline_in_chromium(tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not found (Debian: apt-get install -y chromium; or set GX1_CHROMIUM): "
                    "the offline plots page was not rendered")
    plots = top_level_plots()
    repo = tmp_path / "repo"
    repo.mkdir()
    env = _dvc_env(tmp_path / "dvc-state")
    env.update({"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    dvc = [sys.executable, "-m", "dvc"]
    _run(["git", "init", "-q"], repo, env)
    _run([*dvc, "init", "-q"], repo, env)
    for name in ("dvc.yaml", "params.yaml", ".dvc/config"):
        shutil.copyfile(ROOT / name, repo / name)
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")
    template = html_template_path()
    relative = template.relative_to(ROOT)  # a template outside the repo would not be committed
    if not (repo / relative).exists():
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, repo / relative)

    rows = {}
    for run, tag in enumerate(RUNS, start=1):
        rows[tag] = _write_samples(repo, plots, run)
        _run(["git", "add", "-A"], repo, env)
        _run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "-m", tag], repo, env)
        _run(["git", "-c", "tag.gpgsign=false", "tag", tag], repo, env)

    pages = {"show": {"workspace": rows[RUNS[-1]]}, "diff": rows}
    _run([*dvc, "plots", "show", "-o", str(tmp_path / "show")], repo, env)
    _run([*dvc, "plots", "diff", *RUNS, "-o", str(tmp_path / "diff")], repo, env)
    for name, rows_per_run in pages.items():
        page = tmp_path / name / "index.html"
        html = page.read_text(encoding="utf-8")
        assert not external_loads(html), f"{name}: the page loads {external_loads(html)}"
        dom = render_dom(chromium, page, tmp_path / f"profile-{name}")
        assert 'data-plots-done="true"' in dom, f"{name}: not every plot settled within the time budget"
        check_page(dom, plots, rows_per_run)

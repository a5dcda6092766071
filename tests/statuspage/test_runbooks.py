"""The runbooks the status page serves at /runbooks/ (statuspage/runbooks.py).

A real aiohttp server on 127.0.0.1 serves the repository's docs/runbooks (or a runbook
directory made in a temp dir); a real Prometheus with the shipped prometheus.yml and rules
produces the runbook links; Debian's chromium (through Playwright, `executable_path`, never
a downloaded browser) reads a page at phone width.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
import yaml
from aiohttp.test_utils import TestServer

from statuspage.alertmanager import AlertmanagerClient
from statuspage.cli import main
from statuspage.runbooks import (
    IMAGE_DIR,
    RunbookLibrary,
    RunbooksMissing,
    find_runbooks,
    render,
)
from statuspage.sources import PrometheusClient
from statuspage.web import StatusService, make_app
from tests.support.browser import phone_page
from tests.support.net import HOST, free_port
from tests.support.stack import Prometheus, render_prometheus
from tests.support.timing import E2E, wait_until

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks"
PROMETHEUS_YML = REPO / "prometheus" / "prometheus.yml"
RULES_DIR = REPO / "prometheus" / "rules"
SECRET = "TOP-SECRET-OUTSIDE-THE-RUNBOOKS"


def _alerts() -> list[dict[str, Any]]:
    rules = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    assert rules, "no alerts found in prometheus/rules"
    return rules


ALERT_NAMES = sorted({r["alert"] for r in _alerts()})


def _app(runbooks: Path) -> Any:
    # The page's sources are never read by /runbooks/: closed ports, no request is made.
    service = StatusService(
        prom=PrometheusClient(url=f"http://{HOST}:{free_port()}"),
        am=AlertmanagerClient(url=f"http://{HOST}:{free_port()}"),
    )
    return make_app(service, runbooks=RunbookLibrary(runbooks))


async def _serve(runbooks: Path) -> AsyncIterator[str]:
    server = TestServer(_app(runbooks), host=HOST, port=free_port())
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest_asyncio.fixture
async def site() -> AsyncIterator[str]:
    """The status page serving the repository's docs/runbooks; its base URL."""
    async for url in _serve(RUNBOOKS):
        yield url


async def _get(url: str, *, follow: bool = False) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30, trust_env=False, follow_redirects=follow) as c:
        return await c.get(url)


async def _raw_get(base: str, target: str) -> tuple[int, str]:
    """GET with the request target sent byte for byte (no client-side normalisation)."""
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body.decode("utf-8", errors="replace")


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def _article(html: str) -> str:
    m = re.search(r"<article>(.*)</article>", html, flags=re.S)
    assert m, "no <article> in the page"
    return m.group(1)


# --------------------------------------------------------------------------- real runbooks


@pytest.mark.parametrize("alert", ALERT_NAMES)
async def test_every_alert_of_the_rules_has_its_runbook_served(site: str, alert: str) -> None:
    """GET /runbooks/<Alert>.md (the URL the rules build): 200, an HTML page whose first
    heading is the alert, with the status page's security headers."""
    r = await _get(f"{site}/runbooks/{alert}.md")
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert f"<h1>{alert}</h1>" in r.text
    assert f"<title>{alert} &middot;" in r.text
    tags = parse(r.text)
    assert not [t for t, _ in tags.tags if t in ("script", "iframe", "img", "object")]
    # The nav leads back to the index and to the status page, relative (proxy-proof).
    hrefs = [a.get("href") for t, a in tags.tags if t == "a"]
    assert "./" in hrefs and "../" in hrefs


async def test_index_lists_every_runbook_with_working_links(site: str) -> None:
    """/runbooks/ lists each runbook (name, severity line); each link opens it; /runbooks
    redirects to the index; the status page's own routes are untouched."""
    r = await _get(f"{site}/runbooks/")
    assert r.status_code == 200
    tags = parse(r.text)
    links = sorted(
        a["href"] or "" for t, a in tags.tags if t == "a" and (a.get("href") or "").endswith(".md")
    )
    assert links == [f"{name}.md" for name in ALERT_NAMES]
    assert "Severity:" in r.text and "रनबुक" in r.text
    for link in links:
        assert (await _get(f"{site}/runbooks/{link}")).status_code == 200, link
    redirected = await _get(f"{site}/runbooks", follow=True)
    assert redirected.status_code == 200 and str(redirected.url).endswith("/runbooks/")
    # Without `.md` (a link typed by hand): redirected to the page.
    typed = await _get(f"{site}/runbooks/ParichayDown", follow=True)
    assert typed.status_code == 200 and str(typed.url).endswith("/runbooks/ParichayDown.md")
    assert (await _get(f"{site}/healthz")).text == "ok\n"


async def test_unknown_runbook_is_a_helpful_404_page(site: str) -> None:
    """An unknown name: 404, a bilingual page that says what a runbook link looks like and
    lists the runbooks there are; the name is shown escaped."""
    r = await _get(f"{site}/runbooks/NoSuchAlert.md")
    assert r.status_code == 404
    assert "No runbook named &ldquo;NoSuchAlert.md&rdquo;" in r.text
    assert "यह रनबुक नहीं मिली" in r.text
    assert '<a href="ParichayDown.md">ParichayDown</a>' in r.text
    status, body = await _raw_get(site, "/runbooks/%3Cscript%3Ealert(1)%3C%2Fscript%3E.md")
    assert status == 404
    assert "<script" not in body and "&lt;script&gt;" in body


async def test_the_shipped_base_and_rules_give_urls_that_the_page_serves(site: str) -> None:
    """runbook_base of the shipped prometheus.yml is the status page's /runbooks (its compose
    service name and port); each rule's runbook_url, with that base, is a served 200 page."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    base = config["global"]["external_labels"]["runbook_base"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    command = compose["services"]["statuspage"]["command"]
    assert "--listen=0.0.0.0:10073" in command
    assert base == "http://statuspage:10073/runbooks"
    for rule in _alerts():
        url = rule["annotations"]["runbook_url"].replace("{{ $externalLabels.runbook_base }}", base)
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("http", "statuspage:10073"), url
        r = await _get(f"{site}{parts.path}")
        assert r.status_code == 200, url
        assert f"<h1>{rule['alert']}</h1>" in r.text


@pytest.mark.binaries
async def test_runbook_url_of_a_real_prometheus_alert_opens_its_page(
    site: str, tmp_path: Path
) -> None:
    """A real Prometheus, shipped prometheus.yml (external labels included) and rules, fires
    Watchdog and ExporterDown (nothing answers its scrapes); the runbook_url each alert
    carries, from the external label, resolves on the served app to its runbook page."""
    config = render_prometheus(
        tmp_path / "prom",
        exporters=[f"{HOST}:{free_port()}"],
        bridge=f"{HOST}:{free_port()}",
        alertmanagers=(f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"),
        prometheus=f"{HOST}:{free_port()}",
        timing=E2E,
    )
    prom = Prometheus(config=config, data=tmp_path / "data", log=tmp_path / "prom.log")
    await prom.start()
    try:
        alerts: list[dict[str, Any]] = []

        async def firing() -> bool:
            nonlocal alerts
            r = await _get(f"{prom.url}/api/v1/alerts")
            alerts = [a for a in r.json()["data"]["alerts"] if a["state"] == "firing"]
            return {"Watchdog", "ExporterDown"} <= {a["labels"]["alertname"] for a in alerts}

        await wait_until(firing, within=60, interval=0.5, what="Watchdog and ExporterDown firing")
    finally:
        await prom.stop()
    for alert in alerts:
        name = alert["labels"]["alertname"]
        url = alert["annotations"]["runbook_url"]
        assert url == f"http://statuspage:10073/runbooks/{name}.md"
        r = await _get(f"{site}{urlsplit(url).path}")
        assert r.status_code == 200, url
        assert f"<h1>{name}</h1>" in r.text


@pytest.mark.browser
async def test_a_runbook_reads_on_a_phone_in_chromium(site: str, tmp_path: Path) -> None:
    """Debian's chromium at 360 px: the runbook's heading is visible, its sections too, the
    Hindi text is marked lang=hi; no console error, failed request or sideways scrolling."""
    errors: list[str] = []
    async with phone_page(errors) as page:
        await page.goto(f"{site}/runbooks/ParichayDown.md", wait_until="load")
        heading = page.get_by_role("heading", level=1, name="ParichayDown")
        assert await heading.is_visible()
        assert await page.get_by_role("heading", level=2, name="What it means").is_visible()
        hindi = page.locator('p[lang="hi"]', has_text="परिचय (NIC, दिल्ली)")
        assert await hindi.is_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        await page.screenshot(path=str(tmp_path / "runbook.png"), full_page=True)
        await page.get_by_role("link", name="All runbooks").click()
        await page.wait_for_url(f"{site}/runbooks/")
        assert await page.get_by_role("heading", level=1, name="Runbooks").is_visible()
    assert errors == []
    assert width <= 360
    assert (tmp_path / "runbook.png").stat().st_size > 10_000


# --------------------------------------------------------------------------- hostile input

HOSTILE = """\
# Evil <script>alert('h1')</script> / ख़तरनाक <b onmouseover="alert(2)">x</b>

<script>alert('block')</script>

<div onclick="alert(3)" style="position:fixed">raw block html</div>

Inline <img src=x onerror="alert(4)"> and <a href="javascript:alert(5)" onclick="alert(6)">a</a>.

[plain js](javascript:alert(7)) [mixed case](JaVaScRiPt:alert(8)) [entity](&#106;avascript:alert(9))
[vb](vbscript:msgbox(1)) [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
[file](file:///etc/passwd) [spaced]( javascript:alert(10) ) <javascript:alert(11)>
[title attr](https://example.org "x\\" onmouseover=\\"alert(12)") ![image](https://evil.example/x.png)

[ok https](https://example.org/a?b=1&c=2) [ok mail](mailto:noc@example.org) [ok relative](ParichayDown.md)

| a | <b>b</b> |
|---|---|
| <i onclick=1>c</i> | d |

```html
<script>alert('code')</script>
```
"""


@pytest.fixture
def hostile_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "Evil.md").write_text(HOSTILE, encoding="utf-8")
    (d / "Bilingual.md").write_text(
        "# Bilingual\n\n## What it means / इसका अर्थ\n\nEnglish.\n\nयह हिन्दी में है।\n",
        encoding="utf-8",
    )
    return d


async def test_hostile_runbook_is_escaped_not_executed(hostile_dir: Path) -> None:
    """Scripts, raw HTML, event-handler attributes, javascript:/vbscript:/data:/file: links
    and images in a runbook come out as text: the page has no script, no on* attribute, no
    image, and every link is http(s), mailto or relative."""
    async for site in _serve(hostile_dir):
        r = await _get(f"{site}/runbooks/Evil.md")
        assert r.status_code == 200
        article = _article(r.text)
        tags = parse(r.text)
        names = [t for t, _ in tags.tags]
        assert "script" not in names and "img" not in names and "iframe" not in names
        for tag, attrs in tags.tags:
            for attr in attrs:
                assert not attr.startswith("on"), (tag, attrs)
            if tag == "div":
                pytest.fail(f"raw HTML came through: {attrs}")
        hrefs = [a.get("href") or "" for t, a in parse(article).tags if t == "a"]
        # An image is not loaded: it stays a plain (https) link after a "!".
        assert hrefs == [
            "https://example.org",
            "https://evil.example/x.png",
            "https://example.org/a?b=1&c=2",
            "mailto:noc@example.org",
            "ParichayDown.md",
        ]
        assert all(re.match(r"(https?:|mailto:|[A-Za-z]+\.md$)", h) for h in hrefs)
        # The markup is shown as text, so a reader sees what the file says.
        assert "&lt;script&gt;alert(&#x27;block&#x27;)&lt;/script&gt;" in article or (
            "&lt;script&gt;alert('block')&lt;/script&gt;" in article
        )
        assert "&lt;img src=x onerror=&quot;alert(4)&quot;&gt;" in article
        assert "[plain js](javascript:alert(7))" in "".join(parse(article).text)
        # The title is escaped too.
        assert "<title>Evil &lt;script&gt;" in r.text


async def test_bilingual_headings_mark_the_hindi_part(hostile_dir: Path) -> None:
    """'English / हिन्दी' headings: the Hindi part is a lang=hi span, as on the status page;
    a Hindi paragraph is lang=hi too."""
    async for site in _serve(hostile_dir):
        r = await _get(f"{site}/runbooks/Bilingual.md")
        assert r.status_code == 200
        assert '<h2>What it means <span class="hi" lang="hi">/ इसका अर्थ</span></h2>' in r.text
        assert '<p class="hi" lang="hi">यह हिन्दी में है।</p>' in r.text
        assert "<p>English.</p>" in r.text
    heading = render("X", "# Parichay / NIC Delhi\n").html
    assert heading.strip() == "<h1>Parichay / NIC Delhi</h1>"


# --------------------------------------------------------------------------- traversal


@pytest.fixture
def trap_dir(tmp_path: Path) -> Path:
    """A runbook directory with a secret beside it, a symlink to it, a sub-directory, a
    hidden file and a non-.md file."""
    (tmp_path / "secret.md").write_text(f"# {SECRET}\n", encoding="utf-8")
    d = tmp_path / "runbooks"
    d.mkdir()
    (d / "Good.md").write_text("# Good\n", encoding="utf-8")
    (d / "Leak.md").symlink_to(tmp_path / "secret.md")
    (d / "LinkedDir").symlink_to(tmp_path)
    (d / "sub").mkdir()
    (d / "sub" / "Nested.md").write_text(f"# {SECRET}\n", encoding="utf-8")
    (d / ".Hidden.md").write_text(f"# {SECRET}\n", encoding="utf-8")
    (d / "notes.txt").write_text(SECRET, encoding="utf-8")
    (d / "Dir.md").mkdir()
    return d


TRAVERSALS = [
    "/runbooks/..%2Fsecret.md",
    "/runbooks/..%2fsecret.md",
    "/runbooks/%2E%2E%2Fsecret.md",
    "/runbooks/..%5Csecret.md",
    "/runbooks/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/runbooks/%2Fetc%2Fpasswd",
    "/runbooks//etc/passwd",
    "/runbooks/../secret.md",
    "/runbooks/sub%2FNested.md",
    "/runbooks/sub/Nested.md",
    "/runbooks/LinkedDir%2Fsecret.md",
    "/runbooks/LinkedDir/secret.md",
    "/runbooks/Leak.md",
    "/runbooks/Leak",
    "/runbooks/.Hidden.md",
    "/runbooks/notes.txt",
    "/runbooks/Dir.md",
    "/runbooks/Good.md%00",
    "/runbooks/Good.md%2F",
    "/runbooks/..",
    "/runbooks/.",
]


@pytest.mark.parametrize("target", TRAVERSALS)
async def test_no_path_leaves_the_runbook_directory(trap_dir: Path, target: str) -> None:
    """Encoded dots and slashes, absolute paths, a symlink to a file or a directory outside,
    sub-directories, hidden and non-.md files: 404, never the secret."""
    async for site in _serve(trap_dir):
        status, body = await _raw_get(site, target)
        assert SECRET not in body
        assert status == 404, (status, body)


async def test_absolute_paths_are_not_followed(trap_dir: Path) -> None:
    """The secret's absolute path, plain or with every slash encoded: 404."""
    secret = os.fspath(trap_dir.parent / "secret.md")
    async for site in _serve(trap_dir):
        for target in (f"/runbooks/{secret}", "/runbooks/" + secret.replace("/", "%2F")):
            status, body = await _raw_get(site, target)
            assert status == 404 and SECRET not in body, target


async def test_only_regular_md_files_are_listed_and_served(trap_dir: Path) -> None:
    """The index lists only Good; Good itself is served."""
    async for site in _serve(trap_dir):
        assert RunbookLibrary(trap_dir).names() == ["Good"]
        r = await _get(f"{site}/runbooks/")
        links = [a.get("href") for t, a in parse(r.text).tags if t == "a"]
        assert "Good.md" in links and "Leak.md" not in links and "Nested.md" not in links
        assert (await _get(f"{site}/runbooks/Good.md")).status_code == 200


# --------------------------------------------------------------------------- finding them


def test_runbooks_are_found_in_a_checkout_and_where_the_image_puts_them(tmp_path: Path) -> None:
    """Default: the checkout's docs/runbooks; the image's path is the Dockerfile's COPY
    target; the environment variable and --runbooks win; a missing directory names the fix."""
    assert find_runbooks(env={}) == RUNBOOKS
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert f"COPY docs/runbooks {IMAGE_DIR}\n" in dockerfile
    assert "!docs/runbooks/" in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    image = tmp_path / "image"
    image.mkdir()
    (image / "Watchdog.md").write_text("# Watchdog\n", encoding="utf-8")
    assert find_runbooks(env={}, defaults=[tmp_path / "nowhere", image]) == image
    assert find_runbooks(env={"PARICHAY_RUNBOOKS": str(image)}) == image
    assert find_runbooks(image, env={"PARICHAY_RUNBOOKS": "/nowhere"}) == image
    with pytest.raises(RunbooksMissing, match=r"--runbooks DIR or set PARICHAY_RUNBOOKS"):
        find_runbooks(env={}, defaults=[tmp_path / "nowhere"])
    with pytest.raises(RunbooksMissing, match=r"\$PARICHAY_RUNBOOKS /nowhere: no such directory"):
        find_runbooks(env={"PARICHAY_RUNBOOKS": "/nowhere"})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunbooksMissing, match=r"holds no runbook"):
        find_runbooks(empty, env={})


def test_serve_with_a_missing_runbook_directory_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`parichay-status serve --runbooks DIR` with no such DIR: exit 2, one line with the fix."""
    missing = tmp_path / "nowhere"
    code = main(["serve", "--listen", f"{HOST}:{free_port()}", "--runbooks", str(missing)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"--runbooks {missing}: no such directory" in err
    assert "docs/runbooks" in err and str(IMAGE_DIR) in err


async def test_without_a_runbook_directory_the_page_says_what_is_missing() -> None:
    """An app made without runbooks (nothing found): /runbooks/ answers 503 with the reason."""
    service = StatusService(
        prom=PrometheusClient(url=f"http://{HOST}:{free_port()}"),
        am=AlertmanagerClient(url=f"http://{HOST}:{free_port()}"),
    )
    app = make_app(service, runbooks=RunbookLibrary(None, problem="no runbook directory (x)"))
    server = TestServer(app, host=HOST, port=free_port())
    await server.start_server()
    try:
        for path in ("/runbooks/", "/runbooks/ParichayDown.md"):
            r = await _get(str(server.make_url(path)))
            assert r.status_code == 503
            assert "no runbook directory (x)" in r.text
    finally:
        await server.close()

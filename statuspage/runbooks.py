"""The alert runbooks, served by the status page: `/runbooks/` and `/runbooks/<Alert>.md`.

Every alert's `runbook_url` is `{{ $externalLabels.runbook_base }}/<Alert>.md`, and the
shipped `runbook_base` is this page (`http://statuspage:10073/runbooks`), so the link in an
SMS or email opens on the state network, without a public code-hosting site.

The pages are rendered from `docs/runbooks/*.md` on every request (an edited runbook shows
at once) by markdown-it-py with raw HTML off: every character of a runbook is escaped, links
keep only http, https, mailto, tel and relative targets, and images are not rendered. A
heading "English / हिन्दी" gets its Hindi part marked `lang="hi"` as on the status page, and
so does a paragraph written in Hindi.

Only names that are regular files of the runbook directory are served (no symlinks, no
sub-directories, no path separators or dots in the name); anything else is a 404 page that
lists the runbooks there are.

Where the runbooks are: `--runbooks DIR` or `PARICHAY_RUNBOOKS`; else `docs/runbooks` of a
source checkout; else `/usr/share/parichay/runbooks`, where the image has them (Dockerfile).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup

from statuspage.templating import TEMPLATES

ENV_VAR = "PARICHAY_RUNBOOKS"
SOURCE_DIR = Path(__file__).resolve().parents[1] / "docs" / "runbooks"
IMAGE_DIR = Path("/usr/share/parichay/runbooks")
DEFAULT_DIRS = (SOURCE_DIR, IMAGE_DIR)
# An alert name: what the rules can put before `.md`. No dot, slash or backslash, so a
# name can never leave the directory.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
MAX_BYTES = 1 << 20
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_FIRST_LETTER = re.compile(r"[A-Za-z\u0900-\u097F]")
_HEADING_HI = re.compile(r"^(.*?)\s+(/\s+.*[\u0900-\u097F].*)$", re.S)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class RunbooksMissing(Exception):
    """No runbook directory: the message names the option that fixes it."""


def find_runbooks(
    given: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    defaults: Sequence[Path] = DEFAULT_DIRS,
) -> Path:
    """The runbook directory: `given` (`--runbooks`), else $PARICHAY_RUNBOOKS, else the first
    default that exists. Raises RunbooksMissing with the fix."""
    env = os.environ if env is None else env
    if given is None and env.get(ENV_VAR):
        given, origin = env[ENV_VAR], f"${ENV_VAR}"
    else:
        origin = "--runbooks"
    if given is not None:
        path = Path(given)
        if not path.is_dir():
            raise RunbooksMissing(
                f"{origin} {path}: no such directory; give the bundle's docs/runbooks "
                f"(in the image: {IMAGE_DIR})"
            )
        _require_runbooks(path, origin=f"{origin} {path}")
        return path
    for path in defaults:
        if path.is_dir():
            _require_runbooks(path, origin=f"runbook directory {path}")
            return path
    looked = ", ".join(str(p) for p in defaults)
    raise RunbooksMissing(
        f"no runbook directory (looked in {looked}): pass --runbooks DIR or set {ENV_VAR} "
        "to the bundle's docs/runbooks, or build the image from the repository's Dockerfile, "
        f"which copies them to {IMAGE_DIR}"
    )


def _require_runbooks(path: Path, *, origin: str) -> None:
    if not RunbookLibrary(path).names():
        raise RunbooksMissing(
            f"{origin}: holds no runbook (<Alert>.md); give the bundle's docs/runbooks"
        )


# --------------------------------------------------------------------------- rendering


class SafeMarkdown(MarkdownIt):
    """CommonMark plus tables, raw HTML off, images off, links on an allow-list of schemes."""

    def __init__(self) -> None:
        super().__init__("js-default", {"html": False, "linkify": False, "typographer": False})
        self.disable("image")
        self.core.ruler.push("parichay_hindi", _mark_hindi)

    def validateLink(self, url: str) -> bool:  # markdown-it's name
        m = _SCHEME.match(url.strip())
        return m is None or m.group(1).lower() in SAFE_SCHEMES


def _hi_span(*, opening: bool) -> Token:
    token = Token("hi_open" if opening else "hi_close", "span", 1 if opening else -1)
    if opening:
        token.attrSet("class", "hi")
        token.attrSet("lang", "hi")
    return token


def _mark_hindi(state: StateCore) -> None:
    """Hindi after " / " in a heading, and paragraphs written in Hindi, get `lang="hi"`."""
    tokens = state.tokens
    for i, token in enumerate(tokens[:-1]):
        inline = tokens[i + 1]
        if inline.type != "inline" or not inline.children:
            continue
        if token.type == "heading_open":
            _split_heading(inline.children)
        elif token.type == "paragraph_open" and not token.hidden:
            first = _FIRST_LETTER.search(inline.content)
            if first and _DEVANAGARI.match(first.group()):
                token.attrSet("class", "hi")
                token.attrSet("lang", "hi")


def _split_heading(children: list[Token]) -> None:
    for j in range(len(children) - 1, -1, -1):
        child = children[j]
        if child.type != "text":
            continue
        m = _HEADING_HI.match(child.content)
        if m is None:
            continue
        en = Token("text", "", 0, content=m.group(1) + " ")
        hi = Token("text", "", 0, content=m.group(2))
        children[j : j + 1] = [en, _hi_span(opening=True), hi]
        children.append(_hi_span(opening=False))
        return


@dataclass(frozen=True)
class Rendered:
    """One runbook as HTML: its first level-1 heading as the title, the body, a summary."""

    name: str
    title: str
    html: Markup
    summary: Markup


def render(name: str, text: str, md: MarkdownIt | None = None) -> Rendered:
    md = md or SafeMarkdown()
    tokens = md.parse(text)
    title = name
    summary = Markup("")
    for i, token in enumerate(tokens[:-1]):
        if token.type == "heading_open" and token.tag == "h1" and title == name:
            title = tokens[i + 1].content.strip() or name
        if token.type == "paragraph_open" and not summary:
            summary = Markup(md.renderer.render(tokens[i + 1].children or [], md.options, {}))
            break
    return Rendered(name, title, Markup(md.renderer.render(tokens, md.options, {})), summary)


# --------------------------------------------------------------------------- the directory


class RunbookLibrary:
    """The runbooks of one directory (None: none configured; `problem` says why)."""

    def __init__(self, directory: Path | None, *, problem: str = "") -> None:
        self.directory = directory
        self.problem = problem
        self.md = SafeMarkdown()
        self._cache: dict[str, tuple[tuple[int, int], Rendered]] = {}

    @classmethod
    def discover(cls) -> RunbookLibrary:
        """The default directory, or an empty library that explains what is missing."""
        try:
            return cls(find_runbooks())
        except RunbooksMissing as exc:
            return cls(None, problem=str(exc))

    def names(self) -> list[str]:
        """Alert names with a runbook: regular files `<Name>.md`, never a symlink."""
        if self.directory is None:
            return []
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return []
        names = []
        for entry in entries:
            stem, dot, ext = entry.name.rpartition(".")
            if dot and ext == "md" and NAME.fullmatch(stem):
                if entry.is_file(follow_symlinks=False):
                    names.append(stem)
        return sorted(names)

    def get(self, name: str) -> Rendered | None:
        """The rendered runbook `name`, or None if there is no such regular file."""
        if self.directory is None or not NAME.fullmatch(name) or name not in self.names():
            return None
        try:
            fd = os.open(self.directory / f"{name}.md", os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            key = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(name)
            if cached and cached[0] == key:
                return cached[1]
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return None
        rendered = render(name, data.decode("utf-8", errors="replace"), self.md)
        self._cache[name] = (key, rendered)
        return rendered


# --------------------------------------------------------------------------- HTTP


class RunbookPages:
    """aiohttp handlers for `/runbooks`, `/runbooks/` and `/runbooks/<name>`."""

    def __init__(self, library: RunbookLibrary) -> None:
        self.library = library

    def _html(self, template: str, *, status: int = 200, **context: object) -> web.Response:
        text = TEMPLATES.get_template(template).render(**context)
        return web.Response(
            text=text,
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )

    def _missing(self, name: str) -> web.Response:
        if self.library.directory is None:
            return self._html(
                "runbook_missing.html", status=503, name=name, runbooks=[],
                problem=self.library.problem,
            )
        return self._html(
            "runbook_missing.html", status=404, name=name[:200],
            runbooks=self._entries(), problem="",
        )

    def _entries(self) -> list[Rendered]:
        out = []
        for name in self.library.names():
            rendered = self.library.get(name)
            if rendered is not None:
                out.append(rendered)
        return out

    async def to_index(self, request: web.Request) -> web.StreamResponse:
        # Relative, so the page also works behind a proxy that adds a path prefix.
        raise web.HTTPMovedPermanently("runbooks/")

    async def index(self, request: web.Request) -> web.Response:
        if self.library.directory is None:
            return self._missing("")
        return self._html("runbooks_index.html", runbooks=self._entries())

    async def page(self, request: web.Request) -> web.StreamResponse:
        file = request.match_info["file"]
        stem, dot, ext = file.rpartition(".")
        if not (dot and ext == "md"):
            # `/runbooks/ParichayDown` (a link typed by hand) goes to the .md page.
            if NAME.fullmatch(file) and file in self.library.names():
                raise web.HTTPFound(f"{file}.md")
            return self._missing(file)
        rendered = self.library.get(stem)
        if rendered is None:
            return self._missing(file)
        return self._html("runbook.html", runbook=rendered)


def add_runbook_routes(app: web.Application, library: RunbookLibrary) -> None:
    pages = RunbookPages(library)
    app.router.add_get("/runbooks", pages.to_index)
    app.router.add_get("/runbooks/", pages.index)
    app.router.add_get("/runbooks/{file}", pages.page)

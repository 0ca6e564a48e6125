"""Render an executed trend-report notebook to a self-contained HTML page and a PDF.

HTML: nbconvert's `basic` template (cells only), inputs and prompts hidden, stderr streams dropped, charts
embedded as base64 PNG, one inline stylesheet. The body is then sanitised with one allowlist (nh3, the
maintained binding of the Ammonia sanitiser): only document tags survive, images only as embedded PNG data,
links only within the page; script, style and similar elements go with their content. Values from data are
already escaped where they are published (gentrend.report.publish); the sanitiser is the second wall.

PDF: the same HTML laid out by WeasyPrint with a URL fetcher that refuses every scheme but `data:`, so the
PDF is made from the page alone (no file from the rendering machine, nothing from the network).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import nh3
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from gentrend.core.errors import NotebookError
from gentrend.core.files import atomic_path, write_json, write_text
from gentrend.core.markers import hold

STYLESHEET = Path(__file__).parent / "templates" / "report.css"
TEMPLATE = "basic"  # nbconvert's template for the report body (no Jupyter chrome)
HIDDEN_CELL_TAGS = {"parameters", "injected-parameters", "remove"}

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "div",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title"},
    "a": {"href"},
    "img": {"src", "alt"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
REMOVED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"}
EMBEDDED_PNG = re.compile(r"^data:image/png;base64,[A-Za-z0-9+/=\s]+$")


class RenderError(NotebookError):
    """The report cannot be rendered safely or at all."""


def _allowed_attribute(tag: str, name: str, value: str) -> str | None:
    """nh3's attribute filter: an image only as an embedded PNG, a link only within the page."""
    if tag == "img" and name == "src":
        return value if EMBEDDED_PNG.match(value) else None
    if tag == "a" and name == "href":
        return value if value.startswith("#") else None
    return value


def sanitize(body: str) -> str:
    """Keep only document markup: allowlisted tags and attributes, embedded PNGs, in-page links."""
    return nh3.clean(
        body,
        tags=ALLOWED_TAGS,
        clean_content_tags=REMOVED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_allowed_attribute,
        url_schemes={"data"},
        strip_comments=True,
        link_rel=None,
    )


def _report_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop cells that are plumbing (parameters) and outputs that are noise (stderr warnings)."""
    nb.cells = [c for c in nb.cells if not HIDDEN_CELL_TAGS & set(c.get("metadata", {}).get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.get("name") == "stderr")]
    return nb


def html_exporter() -> HTMLExporter:
    """nbconvert's exporter for the report body; a clear error, before any work, where its template is missing
    (nbconvert installed without its data files, e.g. with pip --target)."""
    try:
        exporter = HTMLExporter(
            template_name=TEMPLATE, exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
        )
        exporter.template_paths  # noqa: B018  (looks the template up)
    except ValueError as e:
        raise RenderError(
            f"nbconvert's {TEMPLATE!r} template was not found, so the report cannot be rendered",
            "reinstall nbconvert in this environment (pip install --force-reinstall nbconvert), or point "
            "JUPYTER_PATH at the share/jupyter folder of an installation that has it",
        ) from e
    return exporter


def notebook_to_html(notebook: Path, title: str = "gentrend trend report") -> str:
    nb = _report_cells(nbformat.read(str(notebook), as_version=4))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    if errors:
        raise RenderError(
            f"{notebook.name} holds an error output ({errors[0].ename})", "fix the failing cell and re-run"
        )
    body = _with_contents(sanitize(html_exporter().from_notebook_node(nb)[0]))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{STYLESHEET.read_text()}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _with_contents(body: str) -> str:
    """Insert a linked table of contents (the h2 sections) after the first section (the summary), so the first
    page holds the title, the findings and the contents."""
    soup = BeautifulSoup(body, "html.parser")
    sections = [h for h in soup.find_all("h2") if h.get("id")]
    if len(sections) < 2:
        return body
    nav = soup.new_tag("nav", attrs={"class": "contents"})
    items = soup.new_tag("ol")
    for h in sections:
        link = soup.new_tag("a", href=f"#{h['id']}")
        link.string = h.get_text().rstrip("¶").strip()
        item = soup.new_tag("li")
        item.append(link)
        items.append(item)
    nav.append(items)
    anchor = sections[1].find_parent(class_="cell") or sections[1]
    anchor.insert_before(nav)
    return str(soup)


class SealedFetcher:
    """WeasyPrint URL fetcher that serves `data:` URLs only and remembers every other URL it refused."""

    def __init__(self):
        from weasyprint.urls import URLFetcher

        self._fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=False)
        self._fail_on_errors = False
        self.refused: list[str] = []

    def __call__(self, url: str):
        if not url.startswith("data:"):
            self.refused.append(url)
            raise ValueError(f"refused: {url[:80]}")
        return self._fetcher(url)


def html_to_pdf(page: str, pdf: Path) -> list[str]:
    """Lay `page` out as a tagged PDF (written atomically): its structure tree keeps headings, tables and each
    figure's alt text for screen readers. Its page counts go beside it (`page_counts`). Returns the URLs the sealed
    fetcher refused."""
    from weasyprint import HTML

    fetcher = SealedFetcher()
    document = HTML(string=page, base_url="about:blank", url_fetcher=fetcher).render(pdf_tags=True)
    with atomic_path(pdf) as tmp:
        document.write_pdf(str(tmp), pdf_tags=True)
    write_json(pages_file(pdf), page_counts(document))
    return fetcher.refused


APPENDIX = "Appendix"  # how the headings of the appendices begin


def pages_file(pdf: Path) -> Path:
    """Where a PDF's page counts are recorded: trend_report.pdf → trend_report.pages.json."""
    return pdf.with_suffix(".pages.json")


def page_counts(document) -> dict:
    """A laid-out report's pages in all and its body's: the pages before the first appendix heading (all pages
    where there is none)."""

    def headings(tree):
        for label, (page, _, _), children, _ in tree:
            yield label, page
            yield from headings(children)

    appendices = [page for label, page in headings(document.make_bookmark_tree()) if label.startswith(APPENDIX)]
    return {"pages": len(document.pages), "body_pages": min(appendices, default=len(document.pages))}


def render_report(notebook: Path, html_path: Path, pdf: Path | None = None) -> tuple[Path, Path | None]:
    """Write the HTML (and the PDF when `pdf` is a path), each under its final name only when complete."""
    hold("render")
    page = notebook_to_html(Path(notebook))
    write_text(html_path, page)
    if pdf is not None:
        html_to_pdf(page, pdf)
    return html_path, pdf

"""Render an executed trend-report notebook to a self-contained HTML page and a PDF.

HTML: nbconvert's `basic` template (cells only, no scripts), inputs and prompts hidden, stderr streams
dropped, charts embedded as base64 PNG, and one inline stylesheet: nothing is fetched to view it.
PDF: the same HTML laid out by WeasyPrint, so the PDF has every chart and table the HTML has.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from .errors import NotebookError

STYLESHEET = Path(__file__).parent / "templates" / "report.css"
HIDDEN_CELL_TAGS = {"parameters", "injected-parameters", "remove"}


def _report_cells(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop cells that are plumbing (parameters) and outputs that are noise (stderr warnings)."""
    nb.cells = [c for c in nb.cells if not HIDDEN_CELL_TAGS & set(c.get("metadata", {}).get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.get("name") == "stderr")]
    return nb


def notebook_to_html(notebook: Path, title: str = "gentrend trend report") -> str:
    nb = _report_cells(nbformat.read(str(notebook), as_version=4))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    if errors:
        raise NotebookError(f"{notebook.name} holds an error output ({errors[0].ename})", "fix the failing cell and re-run")
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body = _with_contents(exporter.from_notebook_node(nb)[0])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
        f"<style>{STYLESHEET.read_text()}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _with_contents(body: str) -> str:
    """Insert a linked table of contents (the h2 sections) after the first h1."""
    soup = BeautifulSoup(body, "html.parser")
    sections = [h for h in soup.find_all("h2") if h.get("id")]
    title = soup.find("h1")
    if not sections or title is None:
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
    title.insert_after(nav)
    return str(soup)


def render_report(notebook: Path, html_path: Path, pdf: Path | None = None) -> tuple[Path, Path | None]:
    """Write the HTML (and the PDF when `pdf` is a path). Returns both paths."""
    page = notebook_to_html(Path(notebook))
    html_path.write_text(page, encoding="utf-8")
    if pdf is not None:
        from weasyprint import HTML

        HTML(string=page, base_url=str(html_path.parent)).write_pdf(str(pdf))
    return html_path, pdf

"""Render an executed trend-report notebook to a self-contained HTML page and a PDF.

HTML: nbconvert's `basic` template (cells only, no scripts), inputs and prompts hidden, stderr streams
dropped, charts embedded as base64 PNG, and one inline stylesheet: nothing is fetched to view it.
PDF: the same HTML laid out by WeasyPrint, so the PDF has every chart and table the HTML has.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
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
    body, _ = exporter.from_notebook_node(nb)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{html.escape(title)}</title>"
        f"<style>{STYLESHEET.read_text()}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def render_report(notebook: Path, html_path: Path, pdf: Path | None = None) -> tuple[Path, Path | None]:
    """Write the HTML (and the PDF when `pdf` is a path). Returns both paths."""
    page = notebook_to_html(Path(notebook))
    html_path.write_text(page, encoding="utf-8")
    if pdf is not None:
        from weasyprint import HTML

        HTML(string=page, base_url=str(html_path.parent)).write_pdf(str(pdf))
    return html_path, pdf

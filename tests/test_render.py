import base64
import io
import re

import matplotlib.pyplot as plt
import nbformat
import pytest
from pypdf import PdfReader

from gentrend.core.errors import NotebookError
from gentrend.report.render import notebook_to_html, render_report


def _png() -> str:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3], [1, 4, 9])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _executed(path, extra_outputs=()):
    params = nbformat.v4.new_code_cell("secret_parameter = 1")
    params.metadata["tags"] = ["parameters"]
    chart = nbformat.v4.new_code_cell("make_chart()")
    chart.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: noisy library\n"),
        nbformat.v4.new_output("display_data", data={"image/png": _png(), "text/plain": "<Figure>"}),
        nbformat.v4.new_output(
            "display_data", data={"text/html": "<table><tr><th>model</th></tr><tr><td>Qwen3-4B</td></tr></table>"}
        ),
        *extra_outputs,
    ]
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Trend report"),
            params,
            nbformat.v4.new_markdown_cell("## Capability density\nText about density."),
            chart,
            nbformat.v4.new_markdown_cell("## Speed and memory\nText about speed."),
        ]
    )
    nbformat.write(nb, path)
    return path


def test_html_is_self_contained_without_inputs_or_noise(tmp_path):
    page = notebook_to_html(_executed(tmp_path / "r.ipynb"))
    assert "make_chart" not in page and "secret_parameter" not in page  # no code, no parameters
    assert "noisy library" not in page  # stderr dropped
    assert page.count('src="data:image/png;base64,') == 1
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', page)  # nothing fetched to view it
    assert '<a href="#Capability-density">Capability density</a>' in page  # table of contents
    assert "<td>Qwen3-4B</td>" in page


def test_pdf_has_the_sections_tables_and_charts(tmp_path):
    html, pdf = render_report(_executed(tmp_path / "r.ipynb"), tmp_path / "r.html", tmp_path / "r.pdf")
    reader = PdfReader(pdf)
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Capability density" in text and "Speed and memory" in text and "Qwen3-4B" in text
    assert len({image.data for page in reader.pages for image in page.images}) == 1
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_a_notebook_with_an_error_output_is_not_rendered(tmp_path):
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])
    with pytest.raises(NotebookError, match="holds an error output \\(ValueError\\)"):
        notebook_to_html(_executed(tmp_path / "r.ipynb", [error]))


PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<link rel="attachment" href="file:///etc/passwd">',
    '<iframe src="https://example.org"></iframe>',
]


def test_markup_in_outputs_is_sanitised(tmp_path):
    """Even HTML that reached an output unescaped is made inert before the page is written."""
    raw = nbformat.v4.new_output("display_data", data={"text/html": "<p>" + "".join(PAYLOADS) + "</p>"})
    page = notebook_to_html(_executed(tmp_path / "r.ipynb", [raw]))
    body = page.split("<body>", 1)[1]
    assert not re.search(r"<script|onerror=|javascript:|<link|<iframe|file://|https://example", body, re.I)


@pytest.mark.parametrize(
    "body",
    ['<p onclick="x()">a</p>', '<img src="https://example.org/x.png">', "<script>1</script>", "<style>p{}</style>"],
)
def test_the_sanitiser_removes_handlers_outside_references_and_scripts(body):
    from gentrend.report.render import sanitize

    kept = sanitize(body)
    assert not re.search(r"onclick|https://|<script|<style|p\{\}|>1<", kept), kept


def test_the_sanitiser_keeps_embedded_images_and_in_page_links():
    from gentrend.report.render import sanitize

    body = '<img src="data:image/png;base64,AAAA" alt="a"><a href="#s">s</a>'
    assert sanitize(body) == body


def test_pdf_fetches_nothing_but_embedded_data(tmp_path):
    from gentrend.report.render import html_to_pdf

    page = (
        '<html><body><p>x</p><img src="file:///etc/hostname"><link rel="attachment" href="file:///etc/passwd">'
        '<img src="https://example.org/a.png"></body></html>'
    )
    refused = html_to_pdf(page, tmp_path / "r.pdf")
    assert set(refused) >= {"file:///etc/hostname", "https://example.org/a.png"}
    reader = PdfReader(tmp_path / "r.pdf")
    assert not reader.attachments and not any(page.images for page in reader.pages)


def test_a_missing_nbconvert_template_stops_the_report_before_any_work(tmp_path, monkeypatch):
    from gentrend.pipeline.request import ReportRequest
    from gentrend.pipeline.runner import run_report
    from gentrend.report import render

    monkeypatch.setattr(render, "TEMPLATE", "no-such-template")  # as when nbconvert lacks its data files
    with pytest.raises(render.RenderError, match="'no-such-template' template was not found") as e:
        run_report(request=ReportRequest(profile_models=()), reports_dir=tmp_path)
    assert "JUPYTER_PATH" in e.value.fix
    assert not any(tmp_path.iterdir())  # no run folder, no lock left behind


def _structure(node, kind: str) -> list:
    """The /Alt of every structure element of `kind` under a PDF structure-tree node."""
    node = node.get_object()
    if not isinstance(node, dict):
        return []
    found = [node.get("/Alt")] if node.get("/S") == kind else []
    kids = node.get("/K", [])
    for kid in kids if isinstance(kids, list) else [kids]:
        found += _structure(kid, kind)
    return found


def test_pdf_is_tagged_and_its_figures_keep_their_alt_text(tmp_path):
    from gentrend.report.publish import figure_html
    from gentrend.report.render import html_to_pdf

    png = base64.b64decode(_png())
    page = "<h1>Report</h1>" + figure_html(png, "score rises with size").data + figure_html(png, "second chart").data
    html_to_pdf(f"<html><body>{page}</body></html>", tmp_path / "t.pdf")
    root = PdfReader(tmp_path / "t.pdf").trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"]
    assert sorted(_structure(root["/StructTreeRoot"], "/Figure")) == ["score rises with size", "second chart"]

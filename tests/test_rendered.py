"""The rendered report as its readers get it: a real browser opens the HTML, the PDF is turned into text and
images with poppler. Needs Debian's chromium and poppler-utils (.ci/run installs them; CI fails without)."""

import os
import re
import shutil
import subprocess

import pytest
from bs4 import BeautifulSoup
from PIL import Image

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOOLS = {"chromium": CHROMIUM, "pdftotext": shutil.which("pdftotext"), "pdftoppm": shutil.which("pdftoppm")}


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = [name for name, path in TOOLS.items() if path is None]
    if missing:
        message = f"needs {', '.join(missing)} (apt-get install chromium poppler-utils)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _pdf_text(pdf, first=None, last=None) -> str:
    pages = ["-f", str(first), "-l", str(last)] if first else []
    return subprocess.run(
        ["pdftotext", "-layout", *pages, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_the_first_page_of_the_html_and_the_pdf_is_the_summary(report_run):
    soup = BeautifulSoup((report_run / "trend_report.html").read_text(), "html.parser")
    first = soup.find("h2")
    assert first.get_text().rstrip("¶") == "Summary"
    findings = first.find_next("ul").find_all("li")
    assert len(findings) >= 4 and all(li.find("a", href=re.compile("^#")) for li in findings)
    page_one = re.sub(r"\s+", " ", _pdf_text(report_run / "trend_report.pdf", 1, 1))
    assert "Summary" in page_one and re.sub(r"\s+", " ", findings[0].get_text())[:60] in page_one


def _typeset_whole(word: str, words: set[str]) -> bool:
    """The word is in the text whole, or in pieces broken only right after a hyphen, dash or slash."""
    breaks = [i + 1 for i, c in enumerate(word) if c in "-–/"] + [len(word)]
    reached = {0}
    for start in sorted(set([0] + breaks)):
        if start in reached:
            reached |= {end for end in breaks if end > start and word[start:end] in words}
    return len(word) in reached


def test_no_pdf_table_cell_is_split_inside_a_word(report_run):
    """Every word of every table cell the PDF shows appears whole in the PDF's text, or broken only where a
    typesetter may break it (after a hyphen, dash or slash): a column squeezed until it wraps letter by letter
    ('su pp ort ed', '596,04 9,920') fails here."""
    soup = BeautifulSoup((report_run / "trend_report.html").read_text(), "html.parser")
    words = set(_pdf_text(report_run / "trend_report.pdf").split())
    cells = [td for td in soup.select("td") if "screen-only" not in td.get("class", [])]
    checked, broken = 0, []
    for td in cells:
        for word in td.get_text().split():
            if len(word) >= 4:
                checked += 1
                if not _typeset_whole(word, words):
                    broken.append(word)
    assert checked > 500 and not broken, broken[:20]


def test_pdf_pages_with_images_are_not_blank(report_run, tmp_path):
    listing = subprocess.run(
        ["pdfimages", "-list", str(report_run / "trend_report.pdf")], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    pages = sorted({int(line.split()[0]) for line in listing})
    assert pages
    for page in pages:
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "30",
                "-png",
                "-f",
                str(page),
                "-l",
                str(page),
                str(report_run / "trend_report.pdf"),
                str(tmp_path / f"p{page}"),
            ],
            check=True,
        )
        (png,) = tmp_path.glob(f"p{page}*.png")
        grey = Image.open(png).convert("L").getdata()
        ink = sum(1 for v in grey if v < 200) / len(grey)
        assert ink > 0.01, f"page {page} has an image but is almost blank ({ink:.2%} ink)"


def test_a_real_browser_shows_the_report_without_errors(report_run, tmp_path):
    from playwright.sync_api import sync_playwright

    errors, failed = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto((report_run / "trend_report.html").as_uri())
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight, e.alt])"
        )
        findings_bottom = page.evaluate("""() => {
            const heading = document.getElementById("Summary");
            const items = [...document.querySelectorAll("li")].filter(
                e => heading.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING);
            return items.length ? items[0].getBoundingClientRect().bottom : null; }""")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        browser.close()
    assert not errors and not failed
    assert images and all(done and width > 0 and height > 0 and alt for done, width, height, alt in images)
    assert findings_bottom is not None and findings_bottom < 900  # the first finding is above the fold
    assert (tmp_path / "report.png").stat().st_size > 10_000

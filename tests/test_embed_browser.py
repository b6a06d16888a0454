"""The embed widget and iframe page in a real browser: headless Chromium (Debian's package) driven by
Playwright, a real gunicorn server over an index built with the real model, and host pages served
from other origins (other ports of 127.0.0.1).

The screenshots are written to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .conftest import free_port, make_pdf, make_pptx, make_scan

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (make test does) to run the browser tests",
                allow_module_level=True)

from fpdf import FPDF  # noqa: E402
from PIL import Image, ImageChops  # noqa: E402
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]
KB = [sys.executable, "-m", "indexer"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PWNED = "<script>window.__pwned=1</script>"
PWNED_IMG = '<img src=x onerror="window.__pwned=2">'
RESULTS = re.compile(r"^\d+ passages? for “")



# ---------------------------------------------------------------------------------------------
# The search service: a tiny corpus indexed with the real model, served by gunicorn.

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    make_pdf(folder / "pensions.pdf", [
        "Old-age pensions in China. The rural pension scheme launched in 2009 pays a basic pension financed by the government.",
        "Pension coverage grew quickly because enrolment was linked to household registration and local offices.",
    ], title="China rural pensions")
    make_pptx(folder / "thailand.pptx", [
        {"title": "Thailand: informal workers join social security",
         "bullets": ["Section 40 of the Social Security Act lets informal workers join voluntarily",
                     "The government adds a co-contribution to each member's payment"]},
        {"title": "Universal health coverage", "bullets": ["Universal Coverage Scheme since 2002", "Financed by general taxation"]},
    ])
    # The same deck as PPTX and PDF (shown once, "also as"), and a scanned page (read by OCR).
    mongolia = [("Maternity protection for herders in Mongolia", ["Herder mothers receive maternity benefits from the social insurance fund",
                                                                   "Local offices register nomadic families on their seasonal routes"])]
    make_pptx(folder / "mongolia.pptx", [{"title": title, "bullets": bullets} for title, bullets in mongolia])
    make_pdf(folder / "mongolia.pdf", ["\n".join([title, *bullets]) for title, bullets in mongolia], title="Mongolia deck")
    scan = FPDF()
    scan.add_page()
    scan.image(make_scan(["Street vendors in Zambia", "pay into the pension fund", "through their market association."]),
               x=0, y=0, w=210, h=297)
    scan.output(str(folder / "zambia-scan.pdf"))
    (folder / "markup.md").write_text(
        "# Quoting web pages\n\nA survey of informal workers' websites found pages that quote code such as "
        f"`{PWNED}` and `{PWNED_IMG}` in their text.\n", encoding="utf-8")
    (folder / "catalog.yaml").write_text(
        "- file: pensions.pdf\n  type: report\n  session: 3\n"
        "- file: thailand.pptx\n  title: Extending social security to informal workers in Thailand\n  type: presentation\n  session: 2\n"
        "- file: markup.md\n  title: Notes with quoted markup\n  type: note\n", encoding="utf-8")
    data = tmp_path_factory.mktemp("data")
    done = subprocess.run([*KB, "index", str(folder), "--data-dir", str(data)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "6 indexed" in done.stdout, done.stdout
    return data


class HostSite:
    """A second origin: a tiny threaded HTTP server answering the pages it is given, by path."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, path: str, html: str) -> str:
        """Serve ``html`` at ``path``; returns its address."""
        self.pages[path] = html
        return self.origin + path

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def site():
    """The project's website: its origin is allowed to use the API and to frame /embed."""
    host = HostSite()
    yield host
    host.close()


@pytest.fixture(scope="module")
def other_site():
    """Some other website, allowed nothing."""
    host = HostSite()
    yield host
    host.close()


@pytest.fixture(scope="module")
def service(data_dir, site) -> str:
    port = free_port()
    # No rate limit: the tests ask more questions from one address than a visitor would.
    env = {**os.environ, "KB_CORS_ORIGINS": site.origin, "KB_EMBED_ORIGINS": site.origin, "KB_RATE_LIMIT": "off"}
    env.pop("KB_ADMIN_TOKEN", None)
    process = subprocess.Popen([*KB, "serve", "--port", str(port), "--workers", "1", "--data-dir", str(data_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(base + "/api/health", timeout=30) as response:
                assert json.loads(response.read())["documents"] == 6
            break
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "gunicorn did not answer within 120 s"
            time.sleep(0.3)
    yield base
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    process.stderr.close()


# ---------------------------------------------------------------------------------------------
# The browser.

@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page with what it logged: console messages and uncaught errors."""

    def __init__(self, page: Page):
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        page.on("console", lambda message: self.console.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", lambda dialog: (self.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))


@pytest.fixture
def open_page(browser):
    """Open pages in a fresh browser context; every page must end without an uncaught error or a dialog."""
    contexts, watched = [], []

    def opener(url: str, **context_options) -> Watched:
        context = browser.new_context(**{"viewport": {"width": 1000, "height": 900}, **context_options})
        contexts.append(context)
        page = Watched(context.new_page())
        watched.append(page)
        page.page.goto(url)
        return page

    yield opener
    for context in contexts:
        context.close()
    for page in watched:
        assert page.errors == [], page.errors


def sample_page(service: str, body: str, head: str = "") -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host page</title>{head}</head>
<body>{body}
<script src="{service}/embed.js" defer></script>
</body></html>"""


PROJECT_PAGE_CSS = """<style>
  body { margin: 0; font: 17px/1.6 Georgia, "Times New Roman", serif; color: #2b2b2b; background: #f4f1ea; }
  header { background: #0b3c5d; color: #fff; padding: 18px 32px; }
  header h1 { margin: 0; font-size: 24px; } header p { margin: 4px 0 0; opacity: .85; font-size: 15px; }
  main { max-width: 760px; margin: 0 auto; padding: 8px 24px 32px; }
  h2 { font-size: 21px; margin: 24px 0 8px; color: #0b3c5d; }
  button, input, mark, li, a, label { font-family: "Comic Sans MS", cursive; color: green; }
</style>"""


def project_page(service: str, widget: str) -> str:
    """The project's website: a header, some text, the widget."""
    return sample_page(service, head=PROJECT_PAGE_CSS, body=f"""
<header><h1>ASEAN-ILO/Japan project on extending social protection</h1>
<p>Experts' meeting, Bangkok, 23–24 May 2017</p></header>
<main><h2>Seminar materials</h2>
<p id="intro">Presentations, session briefs, country notes and reports of the meeting. Ask a question:</p>
{widget}
</main>""")


def search(page: Page, host: str, question: str):
    """Type a question in the widget ``host`` (a CSS selector), press Enter, wait for the answer."""
    box = page.locator(f"{host} input")
    box.fill(question)
    box.press("Enter")
    expect(page.locator(f"{host} .status")).to_have_text(RESULTS)


# ---------------------------------------------------------------------------------------------

def test_widget_answers_a_question_with_source_links(site, service, open_page):
    url = site.page("/project.html", project_page(
        service, f'<div id="kb" data-kb-search data-kb-endpoint="{service}" data-kb-k="4"></div>'))
    watched = open_page(url)
    page = watched.page
    box = page.get_by_role("searchbox", name="Search the seminar materials")
    expect(box).to_have_attribute("placeholder", "Ask a question…")
    expect(page.locator("#kb .more")).to_be_hidden()  # nothing but the box before a search
    expect(page.locator("#kb ol")).to_be_hidden()
    box.fill("How can informal workers in Thailand join social security?")
    box.press("Enter")
    status = page.locator("#kb [role=status]")
    expect(status).to_have_text(RESULTS)
    hits = page.locator("#kb li")
    assert 1 <= hits.count() <= 4
    first = hits.first
    expect(first.locator("a")).to_contain_text("Extending social security to informal workers in Thailand")
    expect(first.locator(".meta")).to_have_text("presentation · slide 1")
    marked = [text.lower() for text in first.locator("mark").all_inner_texts()]
    assert {"informal", "workers", "thailand"} <= set(marked)
    # Every result links to its original on the search service; PDFs open at the page.
    links = [hits.nth(i).locator("a").get_attribute("href") for i in range(hits.count())]
    assert all(re.fullmatch(re.escape(service) + r"/api/documents/\d+/file(#page=\d+)?", link) for link in links), links
    assert first.locator("a").get_attribute("target") == "_blank"
    with urllib.request.urlopen(links[0], timeout=30) as original:
        assert original.status == 200
    search(page, "#kb", "How did pension enrolment spread so fast in China?")
    pdf = page.locator("#kb li", has_text="China rural pensions").first
    expect(pdf.locator(".meta")).to_have_text("report · page 2")
    assert pdf.locator("a").get_attribute("href").endswith("/file#page=2")
    # The answering sentence of the first results is in bold, inside its passage.
    answered = page.locator("#kb li", has=page.locator("strong.answer")).first
    expect(answered).to_be_visible()
    assert answered.locator("strong.answer").inner_text().strip() in answered.locator("p.text").inner_text()
    # The widget's box, its light DOM and the page around it are as the page made them.
    assert page.evaluate("document.getElementById('kb').shadowRoot.mode") == "open"
    assert page.evaluate("document.getElementById('kb').childNodes.length") == 0
    search(page, "#kb", "How can informal workers in Thailand join social security?")
    page.locator("#kb input").blur()
    page.set_viewport_size({"width": 900, "height": 400})
    page.screenshot(path=str(ARTIFACTS / "widget.png"), full_page=True)


def test_ocr_passages_and_near_duplicates_are_labelled(site, service, open_page):
    page = open_page(site.page("/ocr.html", project_page(service, f'<div id="kb" data-kb-search data-kb-endpoint="{service}"></div>'))).page
    search(page, "#kb", "How do street vendors in Zambia pay into the pension fund?")
    scan = page.locator("#kb li", has_text="zambia scan").first
    expect(scan.locator(".meta").first).to_have_text("document · page 1 · read by OCR")
    search(page, "#kb", "maternity benefits for herder mothers in Mongolia")
    decks = page.locator("#kb li", has_text="Herder mothers")
    expect(decks).to_have_count(1)  # the PPTX and the PDF of one deck are one result
    expect(decks.first.locator(".meta", has_text="Also as")).to_have_text(re.compile(r"^Also as: mongolia\.(pdf|pptx)$"))


def test_keyboard_and_screen_reader(site, service, open_page):
    url = site.page("/keyboard.html", sample_page(service, f'<p><a href="#top">Skip</a></p><div id="kb" data-kb-search data-kb-endpoint="{service}" data-kb-k="3"></div>'))
    page = open_page(url).page
    inner = "document.getElementById('kb').shadowRoot.activeElement"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(f"{inner}.tagName + ' ' + {inner}.type") == "INPUT search"
    page.keyboard.type("Universal health coverage financing")
    page.keyboard.press("Enter")
    status = page.locator("#kb [role=status]")
    expect(status).to_have_text(RESULTS)
    assert status.get_attribute("aria-live") == "polite"
    assert page.locator("#kb form").get_attribute("role") == "search"
    assert page.locator("#kb ol").get_attribute("aria-label") == "Results"
    page.keyboard.press("Tab")
    assert page.evaluate(f"{inner}.tagName") == "BUTTON"
    page.keyboard.press("Tab")
    assert page.evaluate(f"{inner}.tagName") == "A"
    assert page.evaluate(f"{inner}.textContent").endswith("(opens in a new tab)")
    # A visible focus ring.
    assert page.evaluate(f"getComputedStyle({inner}).outlineStyle") == "solid"


def test_phone_screen(site, service, open_page):
    url = site.page("/phone.html", sample_page(service, f'<div id="kb" data-kb-search data-kb-endpoint="{service}"></div>'))
    page = open_page(url, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, device_scale_factor=2).page
    search(page, "#kb", "rural pension scheme in China")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for part in ("input", "button"):
        box = page.locator(f"#kb {part}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 44, (part, box)
    page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))


AGGRESSIVE_CSS = """<style>
  * { all: unset; font-size: 40px !important; color: red !important; font-family: "Comic Sans MS", cursive !important;
      line-height: 3 !important; letter-spacing: 6px !important; box-sizing: content-box !important; }
  html { font-size: 40px !important; }
  :root, * { --kb-accent: red; --kb-bg: black; --kb-fg: lime; --accent: red; }
  div { display: inline !important; padding: 40px !important; margin: 30px !important; border: 6px dashed lime !important;
        background: yellow !important; width: 10px !important; height: 10px !important; overflow: hidden !important;
        visibility: hidden !important; opacity: .2 !important; transform: rotate(3deg) !important; }
  input, button, a, li, ol, p, mark, label, form { display: none !important; }
  [data-kb-search] { display: none !important; font-size: 50px !important; }
</style>"""


def _widget_page(service: str, head: str) -> str:
    widget = (f'<section style="position: absolute; left: 24px; top: 80px; width: 640px; display: block; background: white">'
              f'<div id="kb" data-kb-search data-kb-endpoint="{service}" data-kb-k="2"></div></section>')
    text = '<p id="text" style="position: absolute; left: 24px; top: 900px">Host text</p>'
    return sample_page(service, head=head, body=text + widget)


_INNER_STYLES = """() => {
  const root = document.getElementById('kb').shadowRoot;
  const picked = ['fontSize', 'fontFamily', 'color', 'backgroundColor', 'lineHeight', 'letterSpacing', 'display',
                  'paddingTop', 'borderTopWidth', 'width', 'height', 'visibility', 'opacity'];
  const styles = {};
  for (const selector of ['.kb', 'label', 'input', 'button', '.status', 'li a', 'mark', '.text']) {
    const node = root.querySelector(selector), style = getComputedStyle(node);
    styles[selector] = Object.fromEntries(picked.map(name => [name, style[name]]));
  }
  return styles;
}"""


def test_host_page_css_cannot_change_the_widget(site, service, open_page, tmp_path):
    question = "informal workers Thailand social security"
    plain = open_page(site.page("/plain.html", _widget_page(service, ""))).page
    aggressive = open_page(site.page("/aggressive.html", _widget_page(service, AGGRESSIVE_CSS))).page
    shots = []
    for page in (plain, aggressive):
        search(page, "#kb", question)
        expect(page.locator("#kb li")).to_have_count(2)
        page.locator("#kb input").blur()
        shots.append(tmp_path / f"{len(shots)}.png")
        page.locator("#kb").screenshot(path=str(shots[-1]))
    assert aggressive.evaluate("getComputedStyle(document.getElementById('text')).color") == "rgb(255, 0, 0)"  # the CSS is on
    assert plain.evaluate(_INNER_STYLES) == aggressive.evaluate(_INNER_STYLES)
    with Image.open(shots[0]) as first, Image.open(shots[1]) as second:
        assert first.size == second.size
        difference = ImageChops.difference(first.convert("RGB"), second.convert("RGB"))
        # Identical but for the anti-aliasing of the rounded corners (a step or two of one colour channel).
        assert max(high for _, high in difference.getextrema()) <= 4, difference.getbbox()
    aggressive.screenshot(path=str(ARTIFACTS / "widget-aggressive-host.png"))


def test_widget_does_not_change_the_host_page(site, service, open_page):
    body = (f'<p id="p">Paragraph</p><label id="l">Label</label><button id="b">Button</button><mark id="m">mark</mark>'
            f'<ol id="o"><li>item</li></ol><a id="a" href="#">link</a>'
            f'<div id="kb" data-kb-search data-kb-endpoint="{service}"></div>')
    url = site.page("/host-intact.html", sample_page(service, body, head=PROJECT_PAGE_CSS))
    styles = """() => Object.fromEntries(['p', 'l', 'b', 'm', 'o', 'a'].map(id => {
        const s = getComputedStyle(document.getElementById(id));
        return [id, [s.color, s.fontFamily, s.fontSize, s.backgroundColor, s.margin, s.padding, s.display]];
    }))"""
    with_widget = open_page(url).page
    search(with_widget, "#kb", "pension")
    without = open_page(url).page  # the same page with the script refused
    without.route("**/embed.js", lambda route: route.abort())
    without.reload()
    assert without.evaluate("document.getElementById('kb').shadowRoot") is None
    assert with_widget.evaluate(styles) == without.evaluate(styles)
    assert with_widget.evaluate("document.styleSheets.length") == without.evaluate("document.styleSheets.length")


def test_document_markup_is_shown_as_text_and_never_runs(site, service, open_page):
    url = site.page("/markup.html", sample_page(service, f'<div id="kb" data-kb-search data-kb-endpoint="{service}" data-kb-k="5"></div>'))
    watched = open_page(url)
    page = watched.page
    search(page, "#kb", "websites that quote code, script and img onerror")
    hit = page.locator("#kb li", has_text="Notes with quoted markup")
    expect(hit).to_have_count(1)
    text = hit.locator(".text").inner_text()
    assert PWNED in text and PWNED_IMG in text
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.getElementById('kb').shadowRoot.querySelectorAll('script, img, iframe, object').length") == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0


def test_several_widgets_work_independently_with_their_own_options(site, service, open_page):
    widgets = (
        f'<div id="w1" data-kb-search data-kb-endpoint="{service}"></div>'
        f'<div id="w2" data-kb-search data-kb-endpoint="{service}" data-kb-k="1" data-kb-filters="type=presentation" '
        f'data-kb-lang="fr" data-kb-theme="dark" data-kb-accent="#e67e22" data-kb-placeholder="Une question ?"></div>'
        f'<div id="w3" data-kb-search data-kb-endpoint="{service}" data-kb-filters="type=poster"></div>'
        f'<div id="w4" data-kb-search data-kb-endpoint="{service}" data-kb-filters="colour=red" data-kb-accent="not a colour"></div>'
        f'<div id="w5" data-kb-search data-kb-endpoint="{service}" data-kb-k="1" data-kb-query="Universal Coverage Scheme"></div>'
    )
    page = open_page(site.page("/several.html", sample_page(service, widgets))).page
    # A widget with a question of its own answers it at once.
    expect(page.locator("#w5 .status")).to_have_text("1 passage for “Universal Coverage Scheme”")
    expect(page.locator("#w5 input")).to_have_value("Universal Coverage Scheme")
    w2 = page.locator("#w2")
    expect(w2.locator("input")).to_have_attribute("placeholder", "Une question ?")
    expect(w2.locator("button")).to_have_text("Rechercher")
    w2.locator("input").fill("pensions in China")
    w2.locator("input").press("Enter")
    expect(w2.locator(".status")).to_have_text("1 passage pour « pensions in China »")
    expect(w2.locator("li .meta")).to_have_text(re.compile(r"^presentation · diapositive \d$"))
    assert w2.locator(".kb").evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(22, 27, 34)"
    assert w2.locator("button").evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(230, 126, 34)"
    # The other widgets did not move.
    expect(page.locator("#w1 .status")).to_have_text("")
    expect(page.locator("#w1 li")).to_have_count(0)
    # Empty and error states are said in words.
    page.locator("#w3 input").fill("pensions")
    page.locator("#w3 input").press("Enter")
    expect(page.locator("#w3 .status")).to_have_text("No passage matches “pensions”. Try other words.")
    page.locator("#w4 input").fill("pensions")
    page.locator("#w4 input").press("Enter")
    expect(page.locator("#w4 .status")).to_have_text(re.compile(r"^The search failed: unknown filter colour"))
    assert page.locator("#w4 button").evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(27, 95, 168)"
    page.locator("#w1 input").press("Enter")
    expect(page.locator("#w1 .status")).to_have_text("Type a question first.")


# The host page counts the widget's requests and holds back the answers to questions with "slow" in them.
INSTRUMENTED = """<script>
  window.requests = [];
  const realFetch = window.fetch;
  window.fetch = (url, options) => {
    const question = new URL(url).searchParams.get('q');
    window.requests.push(question);
    if (!question.includes('slow')) return realFetch(url, options);
    const { signal, ...rest } = options;  // not abortable: the widget itself must drop the stale answer
    return realFetch(url, rest).then(answer => new Promise(done => setTimeout(() => done(answer), 1500)));
  };
</script>"""


def test_typing_is_debounced_and_a_slow_old_answer_never_wins(site, service, open_page):
    page = open_page(site.page("/instrumented.html", sample_page(
        service, f'<div id="kb" data-kb-search data-kb-endpoint="{service}" data-kb-k="2"></div>', head=INSTRUMENTED))).page
    box = page.locator("#kb input")
    box.press_sequentially("pension scheme", delay=40)
    expect(page.locator("#kb .status")).to_have_text("2 passages for “pension scheme”")
    assert page.evaluate("window.requests") == ["pension scheme"]
    box.fill("slow question about health coverage")
    box.press("Enter")
    expect(page.locator("#kb .status")).to_have_text("Searching…")
    box.fill("Section 40 informal workers")
    box.press("Enter")
    expect(page.locator("#kb .status")).to_have_text("2 passages for “Section 40 informal workers”")
    first = page.locator("#kb li").first.inner_text()
    page.wait_for_timeout(1800)  # the slow answer has arrived by now
    expect(page.locator("#kb .status")).to_have_text("2 passages for “Section 40 informal workers”")
    assert page.locator("#kb li").first.inner_text() == first
    assert page.evaluate("window.requests") == ["pension scheme", "slow question about health coverage", "Section 40 informal workers"]


def test_an_origin_not_allowed_is_refused_by_cors(site, other_site, service, open_page):
    widget = f'<div id="kb" data-kb-search data-kb-endpoint="{service}"></div>'
    page = open_page(other_site.page("/widget.html", sample_page(service, widget))).page
    page.locator("#kb input").fill("pensions")
    page.locator("#kb input").press("Enter")
    expect(page.locator("#kb .status")).to_have_text("Could not reach the search service. Try again later.")
    assert page.locator("#kb .status").get_attribute("class") == "status error"
    fetch = "url => fetch(url).then(r => r.status, e => e.name)"
    assert page.evaluate(fetch, service + "/api/search?q=pensions") == "TypeError"
    allowed = open_page(site.page("/fetch.html", sample_page(service, ""))).page
    assert allowed.evaluate(fetch, service + "/api/search?q=pensions") == 200
    assert allowed.evaluate(fetch, service + "/api/documents") == 200
    # Writing is never allowed from another origin, even an allowed one: the preflight is refused.
    write = """url => fetch(url, {method: 'DELETE', headers: {Authorization: 'Bearer x'}}).then(r => r.status, e => e.name)"""
    assert allowed.evaluate(write, service + "/api/documents/1") == "TypeError"
    with urllib.request.urlopen(service + "/api/documents/1", timeout=30) as response:  # still there
        assert response.status == 200


REFUSED = "chrome-error://chromewebdata/"  # what Chromium shows in a frame it refused to load


def test_iframe_page_is_framed_only_from_allowed_origins(site, other_site, service, open_page):
    frames = (f'<iframe name="embed" src="{service}/embed?k=2&type=presentation&lang=en" title="Search" width="700" height="500"></iframe>'
              f'<iframe name="main" src="{service}/" title="Main page"></iframe>'
              f'<iframe name="admin" src="{service}/admin" title="Admin"></iframe>')
    watched = open_page(site.page("/frame.html", sample_page(service, frames)))
    page = watched.page
    page.wait_for_load_state("load")
    frame = page.frame_locator("iframe[name=embed]")
    frame.locator("input").fill("social security for informal workers")
    frame.locator("input").press("Enter")
    expect(frame.locator(".status")).to_have_text(RESULTS)
    expect(frame.locator("li .meta").first).to_have_text(re.compile(r"^presentation · slide"))
    assert page.frame(name="embed").url.startswith(service + "/embed?")
    # Styled under the page's strict CSP (its own script and styles only), which nothing violated.
    assert frame.locator("button").evaluate("node => getComputedStyle(node).backgroundColor") == "rgb(27, 95, 168)"
    assert not any("violates" in message and "frame-ancestors" not in message for message in watched.console), watched.console
    # The search page and /admin refuse to be framed, even by an allowed origin.
    assert page.frame(name="main").url == REFUSED and page.frame(name="admin").url == REFUSED
    assert sum("frame-ancestors 'none'" in message for message in watched.console) == 2, watched.console
    # Another origin may not frame /embed.
    refused = open_page(other_site.page("/frame.html", sample_page(service, frames)))
    refused.page.wait_for_load_state("load")
    assert refused.page.frame(name="embed").url == REFUSED
    assert any(f"frame-ancestors 'self' {site.origin}" in message for message in refused.console), refused.console


def test_docs_page_live_examples_work(service, open_page):
    watched = open_page(service + "/embed/docs")
    page = watched.page
    widgets = page.locator("[data-kb-search]")
    expect(widgets).to_have_count(2)
    first, second = widgets.nth(0), widgets.nth(1)
    first.locator("input").fill("rural pensions in China")
    first.locator("input").press("Enter")
    expect(first.locator(".status")).to_have_text(RESULTS)
    second.locator("input").fill("informal workers")
    second.locator("input").press("Enter")
    expect(second.locator(".status")).to_have_text(re.compile(r"^\d+ passages? pour « informal workers »$"))
    frame = page.frame_locator("iframe.example-frame")
    expect(frame.locator("input")).to_be_visible()
    assert not any("violates" in message for message in watched.console), watched.console
    second.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "embed-docs.png"), full_page=True)


def test_the_search_page_and_admin_work_under_their_strict_policy(service, open_page):
    """No inline script or style anywhere (search_app/security.py): the pages work with nothing refused."""
    search = open_page(service + "/?q=" + urllib.parse.quote("pensions in China"))
    expect(search.page.locator("ol.results li.hit").first).to_be_visible()
    expect(search.page.locator("ol.results mark").first).to_be_visible()
    admin = open_page(service + "/admin")
    expect(admin.page.locator("#documents li").first).to_be_visible()
    for watched in (search, admin):
        assert not any("violates" in message or "Refused" in message for message in watched.console), watched.console

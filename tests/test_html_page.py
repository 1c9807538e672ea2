"""The step-through page: self-contained, and it walks forward then backward in a real (headless) Chromium."""

import json
import re
import shutil
from pathlib import Path

import pytest

import deepgrad as dg
from deepgrad.cli import main
from deepgrad.viz import html_page, trace

SIGMOID = "1/(1+exp(-(w0*x0+w1*x1+w2)))"
SIGMOID_AT = "x0=-1,x1=-2,w0=2,w1=-3,w2=-3"
EXPECTED = {"x0": "0.39", "x1": "-0.59", "w0": "-0.20", "w1": "-0.39", "w2": "0.20"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sigmoid_page(tmp_path: Path) -> Path:
    path = tmp_path / "sigmoid_neuron.html"
    assert main(["explain", SIGMOID, "--at", SIGMOID_AT, "--html", str(path)]) == 0
    return path


def embedded_steps(page: str) -> list:
    data = re.search(r'<script type="application/json" id="dg-steps">(.*?)</script>', page, re.S).group(1)
    return json.loads(data)


def test_page_is_self_contained_and_holds_every_step(tmp_path, capsys):
    page = sigmoid_page(tmp_path).read_text()
    capsys.readouterr()
    assert "src=" not in page and "href=" not in page and "@import" not in page and "url(http" not in page
    steps = embedded_steps(page)
    phases = [s["phase"] for s in steps]
    # inputs + 8 ops forward; start + 8 nodes backward; the final gradient step
    assert phases == ["forward"] * 9 + ["backward"] * 9 + ["done"]
    div = next(s for s in steps if s["phase"] == "backward" and s["heading"].startswith("div"))
    assert div["rows"] == [["1+exp(-(w0*x0+w1*x1+w2))", "1.00", "-0.53", "-0.53"]]
    assert dict(steps[-1]["gradients"]) == EXPECTED
    forward_exp = next(s for s in steps if s["phase"] == "forward" and s["heading"].startswith("exp"))
    assert forward_exp["formula"] == "exp(-1.00) = 0.37"


def test_page_from_a_tensor_and_from_a_trace(tmp_path):
    x = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    y = dg.tensor(3.0, dtype=dg.float64, requires_grad=True)
    f = x * y + x
    page = html_page(f, tmp_path / "f.html", title="x*y+x")
    assert (tmp_path / "f.html").read_text(encoding="utf-8") == page
    steps = embedded_steps(page)
    assert dict(steps[-1]["gradients"]) == {"x": "4.00", "y": "2.00"}
    x_uses = [s for s in steps if s["phase"] == "backward" and "used 2 times" in s["formula"]]
    assert x_uses == []  # x is a leaf: its two contributions are summed in the last step
    t = trace(x * x)
    steps = embedded_steps(html_page(t, variables=["x"]))
    assert dict(steps[-1]["gradients"]) == {"x": "4.00"}
    assert "<title>x*y+x" in page


def test_page_with_a_value_used_twice_says_so():
    x = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    a = x.exp()
    f = a * a.sin()
    steps = embedded_steps(html_page(f))
    exp_step = next(s for s in steps if s["phase"] == "backward" and s["heading"].startswith("exp"))
    assert "used 2 times" in exp_step["formula"]


def _playwright():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return sync_api, chromium


def test_step_through_in_headless_chromium(tmp_path, capsys):
    sync_api, chromium = _playwright()
    path = sigmoid_page(tmp_path)
    capsys.readouterr()
    errors = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: errors.append(r.url) if not r.url.startswith("file:") else None)
            page.goto(path.as_uri())
            assert page.inner_text("#dg-counter") == "1 / 19"
            assert page.get_attribute("body", "data-phase") == "forward"
            assert page.is_disabled("#dg-prev")
            # before the backward pass no gradient is visible
            assert not page.is_visible("#dg-gradients")
            assert not page.locator('[data-grad-of="x0"]').is_visible()

            # walk forward with the arrow key, then the backward pass with the Next button
            phases = []
            for _ in range(8):
                page.keyboard.press("ArrowRight")
                phases.append(page.get_attribute("body", "data-phase"))
            assert phases == ["forward"] * 8
            assert "0.73" in page.inner_text("#dg-table")  # the last forward step: the output's value
            seen_div = False
            while not page.is_disabled("#dg-next"):
                page.click("#dg-next")
                if page.inner_text("#dg-heading").startswith("div"):
                    cells = page.locator("#dg-table td").all_inner_texts()
                    assert cells == ["1+exp(-(w0*x0+w1*x1+w2))", "1.00", "-0.53", "-0.53"]
                    seen_div = True
            assert seen_div
            assert page.get_attribute("body", "data-phase") == "done"
            assert page.inner_text("#dg-counter") == "19 / 19"

            # the backward pass reached the inputs: the five gradients, in the panel and in the picture
            shown = {
                el.get_attribute("data-variable"): el.inner_text().split(" = ")[1]
                for el in page.locator("#dg-gradients .dg-gradient").all()
            }
            assert shown == EXPECTED
            for name, value in EXPECTED.items():
                label = page.locator(f'[data-grad-of="{name}"]')
                assert label.is_visible() and label.text_content() == value
            page.screenshot(path=str(tmp_path / "sigmoid_neuron.png"), full_page=True)

            page.keyboard.press("ArrowLeft")  # back one step: the gradient list disappears again
            assert page.get_attribute("body", "data-phase") == "backward"
            assert not page.is_visible("#dg-gradients")
            page.keyboard.press("Home")
            assert page.inner_text("#dg-counter") == "1 / 19"
        finally:
            browser.close()
    assert errors == []
    screenshot = tmp_path / "sigmoid_neuron.png"
    assert screenshot.stat().st_size > 10_000

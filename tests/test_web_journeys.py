"""The web client in a real browser (Debian's chromium driven by Playwright for Python) against the real stack:
the gateway serving the client, and the services it calls as real processes on the test database, Redis and NATS.

Screenshots of the main pages at a phone width and a desktop width go to the folder this module prints
(``.zhenxi/screenshots/web`` by default, ``ZHENXI_SCREENSHOTS`` to change it)."""
import contextlib
import os
import random
import re
import sys
from pathlib import Path

import pytest

from zhenxi_common.testing import free_port, running_service

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
XRAY = ROOT / "services" / "xray" / "models" / "golden" / "00017611_000.png"  # a real NIH ChestX-ray14 image
PASSWORD = "web-journey-pw1"

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def stack(zx_env):
    """ocr, xray, nlp and the gateway as real processes; services not started here answer 503 through the gateway."""
    env = dict(os.environ)
    env["NLP_DENSE_RETRIEVAL"] = "false"  # no embeddings needed; keeps start-up short on a small machine
    started = ("ocr", "xray", "nlp")
    for name in ("ocr", "xray", "nlp", "report", "reminders", "booking", "tips"):
        if name not in started:
            env[f"GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{free_port()}"
    with contextlib.ExitStack() as stack:
        for name in started:
            url = stack.enter_context(running_service(ROOT / "services" / name, free_port(), env, timeout_s=240))
            env[f"GATEWAY_{name.upper()}_URL"] = url
        yield stack.enter_context(running_service(ROOT / "gateway", free_port(), env))


@pytest.fixture(scope="module")
def shots():
    folder = Path(os.environ.get("ZHENXI_SCREENSHOTS", ROOT / ".zhenxi" / "screenshots" / "web")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    sys.__stdout__.write(f"\nweb screenshots: {folder}\n")
    return folder


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Tab:
    """One browser context (own cookies) with its console watched for CSP violations and script errors."""

    def __init__(self, browser, base: str, viewport: dict) -> None:
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.base = base
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.base}/#/{route}")

    def shot(self, folder: Path, name: str) -> None:
        self.page.evaluate("window.scrollTo(0, 0)")  # sticky header at the top of a full-page shot
        self.page.wait_for_timeout(300)  # let charts draw
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def _lab_photo(tmp_path: Path) -> Path:
    """A synthetic biochemistry sheet with abnormal values (ocr's generator, as the ocr↔nlp contract test uses)."""
    import cv2

    sys.path.insert(0, str(ROOT / "services" / "ocr" / "synth"))
    import generate as synth

    img, truth = synth.make_report(random.Random("contract-biochemistry-0"), 0, synth.available_fonts(),
                                   distortion="clean", panel="biochemistry")
    path = tmp_path / "lab.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return path


def _register_and_login(tab: Tab, username: str) -> None:
    page = tab.page
    tab.open("register")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="注册").click()
    page.get_by_text("注册成功，请登录。").wait_for()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_label("密码").press("Enter")  # keyboard submit
    page.get_by_role("heading", name="首页").wait_for()


def test_login_errors_are_translated_and_the_session_survives_a_reload(stack, browser, shots):
    tab = Tab(browser, stack, PHONE)
    page = tab.page
    tab.open("login")
    page.get_by_text("微信登录").wait_for()
    tab.shot(shots, "login-phone")
    page.get_by_label("用户名").fill("nobody_here")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")
    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Log in").wait_for()

    page.get_by_role("button", name="中文").click()
    _register_and_login(tab, "web_reload_user")
    # Tokens are not where scripts (or an XSS) could take them: no storage, refresh cookie invisible to JS.
    assert page.evaluate("Object.keys(localStorage).filter(k => k !== 'zx_lang')") == []
    assert page.evaluate("Object.keys(sessionStorage)") == []
    assert "zx_refresh" not in page.evaluate("document.cookie") and "zx_csrf" in page.evaluate("document.cookie")
    refresh = [c for c in tab.context.cookies() if c["name"] == "zx_refresh"][0]
    assert refresh["httpOnly"] and refresh["sameSite"] == "Strict"
    page.reload()
    page.get_by_role("heading", name="首页").wait_for()  # signed back in from the cookie
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("button", name="登录").wait_for()
    page.reload()
    page.get_by_role("button", name="登录").wait_for()  # logged out for good
    assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
    tab.close()


def test_patient_uploads_a_lab_photo_and_an_xray_and_reads_the_report(stack, browser, shots, tmp_path):
    lab = _lab_photo(tmp_path)
    tab = Tab(browser, stack, PHONE)
    page = tab.page
    _register_and_login(tab, "web_patient_1")
    tab.shot(shots, "home-phone")
    page.get_by_role("link", name="分析", exact=True).click()
    page.get_by_role("heading", name="新的分析").wait_for()
    assert page.get_by_label("化验单照片").get_attribute("capture") == "environment"
    assert page.get_by_label("胸部 X 光片").get_attribute("capture") == "environment"
    page.get_by_label("化验单照片").set_input_files(str(lab))
    page.get_by_label("胸部 X 光片").set_input_files(str(XRAY))
    page.get_by_label("症状描述（可选）").fill("咳嗽三天，有点发热")
    tab.shot(shots, "analysis-phone")
    page.get_by_role("button", name="开始分析").click()
    # Progress is shown step by step while the services work.
    page.get_by_text("进行中…").first.wait_for()
    page.get_by_role("heading", name="检查报告").wait_for(timeout=180_000)

    # Abnormal items first, each with its flag; then the table with printed ranges.
    abnormal = page.locator("article.abn")
    assert abnormal.count() >= 2
    assert re.search(r"\b(H|L|HH|LL|POS)\b", abnormal.first.inner_text())
    rows = page.locator("table tbody tr")
    assert rows.count() >= 5
    assert page.locator("tbody tr.abnormal").count() == abnormal.count()
    first_rows = [rows.nth(i).get_attribute("class") for i in range(abnormal.count())]
    assert all(c == "abnormal" for c in first_rows)  # abnormal rows lead the table too
    # The X-ray with overlays that toggle.
    stage = page.locator(".xray-stage")
    stage.locator("img.base").wait_for()
    assert stage.locator("img.base").evaluate("img => img.naturalWidth") > 0
    masks = stage.locator("canvas.mask")
    assert masks.count() >= 2
    expect(masks.first).to_be_hidden()
    page.get_by_label(re.compile("器官轮廓")).check()
    expect(masks.first).to_be_visible()
    heat = stage.locator("img.heat")
    if heat.count():
        expect(heat.first).to_be_visible()
        page.get_by_label(re.compile("热力图")).uncheck()
        expect(heat.first).to_be_hidden()
    # Departments link into booking.
    book = page.get_by_role("link", name="去挂号")
    assert book.count() >= 1 and "#/booking?department=" in book.first.get_attribute("href")
    tab.shot(shots, "report-phone")
    page.set_viewport_size(DESKTOP)
    tab.shot(shots, "report-desktop")
    page.get_by_role("link", name="首页", exact=True).click()
    page.locator(".chart").first.wait_for()
    tab.shot(shots, "home-desktop")
    assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
    tab.close()


def test_consultation_answers_with_sources_and_escalates_an_emergency(stack, browser, shots):
    tab = Tab(browser, stack, PHONE)
    page = tab.page
    _register_and_login(tab, "web_patient_2")
    page.get_by_role("link", name="问诊", exact=True).click()
    page.get_by_label("提问").fill("尿酸高平时要注意什么？")
    page.get_by_role("button", name="发送").click()
    answer = page.locator("li.msg.assistant").first
    answer.wait_for(timeout=60_000)
    assert page.locator("li.msg.assistant .sources").count() >= 1
    assert page.locator("li.msg.assistant.emergency").count() == 0
    page.get_by_label("提问").fill("我爸突然胸口剧痛，满头大汗，喘不上气")
    page.get_by_label("提问").press("Control+Enter")  # keyboard send
    page.locator("li.msg.assistant.emergency").wait_for(timeout=60_000)
    assert "120" in page.locator("li.msg.assistant.emergency [role=alert]").inner_text()
    tab.shot(shots, "consult-phone")
    page.set_viewport_size(DESKTOP)
    tab.shot(shots, "consult-desktop")
    tab.close()

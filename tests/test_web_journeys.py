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

from zhenxi_common.testing import free_port, isolated_env, running_service

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


def implemented(service: str, route: str) -> bool:
    """Whether this checkout has the service's API (not only its /info skeleton)."""
    return route in (ROOT / "services" / service / "app" / "api.py").read_text()


BOOKING = implemented("booking", '"/holds"')
REMINDERS = implemented("reminders", '"/occurrences"')
TIPS = implemented("tips", '"/recommendations"')
needs_booking = pytest.mark.skipif(not BOOKING, reason="the booking service's API is not in this checkout yet")
needs_tips = pytest.mark.skipif(not TIPS, reason="the tips service's API is not in this checkout yet")
needs_reminders = pytest.mark.skipif(not REMINDERS, reason="the reminders service's API is not in this checkout yet")


@pytest.fixture(scope="module")
def own_env(zx_env):
    """This module's processes get a database and NATS/Redis namespaces of their own. The run's shared platform
    (``conftest.platform``, started by earlier modules and kept for the session) has a report service too: on one
    database each report worker would claim the other's pending reports, and one whose uploads sit in the other's
    directory would come back with its lab section failed (seen as a flaky journey on a loaded machine)."""
    with isolated_env("web") as env:
        yield env


@pytest.fixture(scope="module")
def stack(own_env, tmp_path_factory):
    """The gateway and the services the pages call, as real processes; services not started here answer 503
    through the gateway (and the pages say so). The report service fans out to the ocr, xray and nlp processes."""
    env = dict(os.environ)
    env.update(own_env)
    env["NLP_DENSE_RETRIEVAL"] = "false"  # no embeddings needed; keeps start-up short on a small machine
    started = ("ocr", "xray", "nlp") + (("booking",) if BOOKING else ()) + (("reminders",) if REMINDERS else ()) + (("tips",) if TIPS else ())
    for name in ("ocr", "xray", "nlp", "report", "reminders", "booking", "tips"):
        if name not in started:
            env[f"GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{free_port()}"
    with contextlib.ExitStack() as stack:
        for name in started:
            url = stack.enter_context(running_service(ROOT / "services" / name, free_port(), env, timeout_s=240))
            env[f"GATEWAY_{name.upper()}_URL"] = url
        env.update({"REPORT_OCR_URL": env["GATEWAY_OCR_URL"], "REPORT_XRAY_URL": env["GATEWAY_XRAY_URL"],
                    "REPORT_NLP_URL": env["GATEWAY_NLP_URL"], "REPORT_REMINDERS_URL": env["GATEWAY_REMINDERS_URL"],
                    "REPORT_UPLOAD_DIR": str(tmp_path_factory.mktemp("report-uploads")),
                    "REPORT_WORKER_POLL_S": "0.5"})
        env["GATEWAY_REPORT_URL"] = stack.enter_context(
            running_service(ROOT / "services" / "report", free_port(), env, timeout_s=240))
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
        expect(self.page.get_by_text("加载中…")).to_have_count(0)  # the page has rendered
        self.page.evaluate("window.scrollTo(0, 0)")  # sticky header at the top of a full-page shot
        self.page.wait_for_timeout(300)  # let charts draw
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def _lab_photo(tmp_path: Path, seed: int = 0) -> Path:
    """A synthetic biochemistry sheet with abnormal values (ocr's generator, as the ocr↔nlp contract test uses)."""
    import cv2

    sys.path.insert(0, str(ROOT / "services" / "ocr" / "synth"))
    import generate as synth

    img, truth = synth.make_report(random.Random(f"contract-biochemistry-{seed}"), 0, synth.available_fonts(),
                                   distortion="clean", panel="biochemistry")
    path = tmp_path / f"lab{seed or ''}.jpg"
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
    page.get_by_role("navigation", name="main").get_by_role("link", name="分析").click()
    page.get_by_role("heading", name="新的分析").wait_for()
    assert page.get_by_label("化验单照片").get_attribute("capture") == "environment"
    assert page.get_by_label("胸部 X 光片").get_attribute("capture") == "environment"
    page.get_by_label("化验单照片").set_input_files(str(lab))
    page.get_by_label("胸部 X 光片").set_input_files(str(XRAY))
    page.get_by_label("症状描述（可选）").fill("咳嗽三天，有点发热")
    page.get_by_label("性别").select_option("female")
    page.get_by_label("年龄（可选）").fill("46")
    tab.shot(shots, "analysis-phone")
    page.get_by_role("button", name="开始分析").click()
    # One report in the report service; its page follows the sections' progress over SSE.
    page.wait_for_url(re.compile(r"#/report/[0-9a-f-]{36}$"))
    report_id = page.url.rsplit("/", 1)[1]
    page.locator("section.progress").wait_for()
    page.get_by_text("进行中…").first.wait_for()
    page.locator(".downloads").wait_for(timeout=240_000)  # rendered once the report is complete
    expect(page.locator("section.progress")).to_have_count(0)

    # Abnormal items first, each with its flag; then the table with printed ranges.
    abnormal = page.locator("article.abn")
    assert abnormal.count() >= 2
    assert re.search(r"\b(H|L|HH|LL|POS)\b", abnormal.first.inner_text())
    rows = page.locator("table.indicators tbody tr")
    assert rows.count() >= 5
    assert page.locator("table.indicators tbody tr.abnormal").count() == abnormal.count()
    first_rows = [rows.nth(i).get_attribute("class") for i in range(abnormal.count())]
    assert all(c == "abnormal" for c in first_rows)  # abnormal rows lead the table too
    ranges = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())]
    assert any(re.search(r"\d+(\.\d+)?\s*(–|-{1,2}|~)\s*\d+", r) for r in ranges), ranges  # as printed
    assert page.locator("ul.summary li").count() >= 1
    # The X-ray: the film this browser uploaded, the service's overlay image (masks) and heatmaps, toggled.
    stage = page.locator(".xray-stage")
    stage.locator("img.base").wait_for()
    page.wait_for_function("() => document.querySelector('.xray-stage img.base').naturalWidth > 0")
    masks = stage.locator("img.mask")
    assert masks.count() == 1
    expect(masks.first).to_be_hidden()
    page.get_by_label(re.compile("器官轮廓")).check()
    expect(masks.first).to_be_visible()
    page.wait_for_function("() => document.querySelector('.xray-stage img.mask').naturalWidth > 0")
    heat = stage.locator("img.heat")
    if heat.count():  # one finding's heatmap at a time, chosen from a list
        expect(stage.locator("img.heat:visible")).to_have_count(1)
        picker = page.get_by_label("热力图对应的发现")
        shown = stage.locator("img.heat:visible").evaluate("el => [...el.parentNode.querySelectorAll('img.heat')].indexOf(el)")
        other = [o for o in picker.locator("option").evaluate_all("os => os.map(o => o.value)") if o != str(shown)]
        if other:
            picker.select_option(other[0])
            expect(stage.locator("img.heat:visible")).to_have_count(1)
            assert stage.locator("img.heat:visible").evaluate(
                "el => [...el.parentNode.querySelectorAll('img.heat')].indexOf(el)") == int(other[0])
        page.wait_for_function("() => [...document.querySelectorAll('.xray-stage img.heat')]"
                               ".some(i => !i.hidden && i.naturalWidth > 0)")
        stage.screenshot(path=str(shots / "report-xray-layers-phone.png"))
        page.get_by_label("热力图", exact=True).uncheck()
        expect(stage.locator("img.heat:visible")).to_have_count(0)
    # Departments link into booking.
    book = page.get_by_role("link", name="去挂号")
    assert book.count() >= 1 and "#/booking?department=" in book.first.get_attribute("href")
    expect(page.locator(".disclaimer")).to_contain_text("不构成诊断")
    # The PDF is the report service's, fetched with the in-memory token and saved as a file.
    with page.expect_download(timeout=180_000) as dl:  # rendered on a shared, loaded CPU
        page.get_by_role("button", name="下载 PDF").click()
    pdf = dl.value
    assert pdf.suggested_filename.endswith(".pdf")
    assert Path(pdf.path()).read_bytes()[:5] == b"%PDF-"
    tab.shot(shots, "report-phone")
    page.set_viewport_size(DESKTOP)
    tab.shot(shots, "report-desktop")

    # Home shows the latest report; history lists it and charts an indicator over time.
    page.get_by_role("navigation", name="main").get_by_role("link", name="首页").click()
    expect(page.locator(f"a[href='#/report/{report_id}']").first).to_be_visible()
    tab.shot(shots, "home-desktop")
    tab.open("history")
    page.get_by_role("heading", name="指标趋势").wait_for()
    expect(page.locator("ul.reports li")).to_have_count(1)
    expect(page.get_by_label("指标").locator("option")).not_to_have_count(0)
    expect(page.locator(".chart")).to_contain_text("只有一次结果")  # one report: no one-point chart
    expect(page.locator("table.history-table tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="加载更多")).to_be_hidden()

    # A second lab report: the report compares with the first, and history charts the indicators over time.
    page.get_by_role("navigation", name="main").get_by_role("link", name="分析").click()
    page.get_by_label("化验单照片").set_input_files(str(_lab_photo(tmp_path, seed=1)))
    page.get_by_role("button", name="开始分析").click()
    page.wait_for_url(lambda url: "#/report/" in url and report_id not in url)
    page.locator(".downloads").wait_for(timeout=240_000)
    expect(page.locator("ul.trends li").first).to_be_visible()
    assert page.locator("table.indicators .spark").count() >= 1
    tab.open("history")
    page.locator(".chart .u-wrap").first.wait_for()
    expect(page.locator("table.history-table tbody tr")).to_have_count(2)
    expect(page.locator("ul.reports li")).to_have_count(2)
    tab.shot(shots, "history-desktop")
    page.set_viewport_size(PHONE)
    tab.shot(shots, "history-phone")
    assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
    tab.close()


def test_a_lab_photo_the_ocr_refuses_is_named_and_not_called_all_normal(stack, browser, tmp_path):
    """A photo too small to read: the report says which photo failed and why, never "all within range"."""
    import cv2
    import numpy as np

    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.full((24, 24, 3), 200, np.uint8))
    tab = Tab(browser, stack, PHONE)
    page = tab.page
    _register_and_login(tab, "web_tiny_photo")
    page.get_by_role("navigation", name="main").get_by_role("link", name="分析").click()
    page.get_by_label("化验单照片").set_input_files(str(tiny))
    page.get_by_role("button", name="开始分析").click()
    page.wait_for_url(re.compile(r"#/report/[0-9a-f-]{36}$"))
    page.locator(".downloads").wait_for(timeout=240_000)
    expect(page.get_by_text("化验单照片 1: 图片分辨率太低。")).to_be_visible()
    expect(page.get_by_text("没有从照片中识别出检验指标", exact=False)).to_be_visible()
    expect(page.get_by_text("所有识别出的指标都在参考范围内。")).to_have_count(0)
    assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
    tab.close()


def test_consultation_answers_with_sources_and_escalates_an_emergency(stack, browser, shots):
    tab = Tab(browser, stack, PHONE)
    page = tab.page
    _register_and_login(tab, "web_patient_2")
    page.get_by_role("navigation", name="main").get_by_role("link", name="问诊").click()
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


def _promote(own_env, username: str, role: str = "admin") -> None:
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    async def run():
        url = make_url(own_env["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("UPDATE gateway.users SET role=$1 WHERE username=$2", role, username)
        finally:
            await conn.close()

    # Playwright's sync API keeps an event loop on this thread: run the query on another one.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def _monday_in_two_weeks() -> str:
    from datetime import date, timedelta

    today = date.today()
    return (today + timedelta(days=14 - today.weekday())).isoformat()


# An ID number with a valid GB 11643 check digit (the standard's worked example) and a mobile number.
ID_NUMBER = "11010519491231002X"
MOBILE = "13800138000"


@needs_booking
def test_admin_creates_a_week_of_sessions_and_a_patient_books_and_cancels(stack, browser, shots, own_env):
    admin = Tab(browser, stack, DESKTOP)
    page = admin.page
    _register_and_login(admin, "web_admin_1")
    _promote(own_env, "web_admin_1")
    page.get_by_role("button", name="退出登录").click()
    page.get_by_label("用户名").fill("web_admin_1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="管理", exact=True).click()
    page.get_by_role("link", name="医院、医生与出诊").click()
    page.get_by_role("heading", name="新增医院").wait_for()
    hospital_form = page.locator("section.card", has=page.get_by_role("heading", name="新增医院"))
    hospital_form.get_by_label("医院").fill("诊析示范医院")
    hospital_form.get_by_label("城市").fill("上海")
    hospital_form.get_by_role("button", name="创建").click()
    expect(hospital_form.get_by_role("alert")).to_contain_text("诊析示范医院")
    doctor_form = page.locator("section.card", has=page.get_by_role("heading", name="新增医生"))
    doctor_form.get_by_label("医院").select_option(label="诊析示范医院（上海）")
    doctor_form.get_by_label("科室").select_option(index=0)
    department = doctor_form.get_by_label("科室").input_value()
    doctor_form.get_by_label("医生").fill("王晓明")
    doctor_form.get_by_role("button", name="创建").click()
    expect(doctor_form.get_by_role("alert")).to_contain_text("王晓明")
    week = page.locator("section.card", has=page.get_by_role("heading", name="批量排班（一周）"))
    expect(week.get_by_label("医生")).to_contain_text("王晓明")
    week.get_by_label("周一日期").fill(_monday_in_two_weeks())
    week.get_by_label("六 下午").check()  # Monday–Friday mornings are pre-ticked; add Saturday afternoon
    week.get_by_label("每个时段号源数").fill("3")
    week.get_by_role("button", name="生成一周出诊").click()
    expect(week.get_by_role("alert")).to_contain_text("已创建出诊: 6")
    admin.shot(shots, "admin-booking-desktop")
    page.set_viewport_size(PHONE)
    admin.shot(shots, "admin-booking-phone")
    assert not [p for p in admin.problems if "Content Security Policy" in p], admin.problems
    admin.close()

    # A patient finds the doctor, watches live counts, holds, confirms, sees the voucher and cancels.
    patient = Tab(browser, stack, PHONE)
    watcher = Tab(browser, stack, PHONE)
    page = patient.page
    _register_and_login(watcher, "web_watcher_1")
    watcher.open(f"booking?department={department}")
    watcher.page.get_by_role("button", name="出诊时间").first.click()
    watched = watcher.page.locator("strong.remaining").first
    expect(watched).to_have_text("3")

    _register_and_login(patient, "web_patient_3")
    page.get_by_role("navigation", name="main").get_by_role("link", name="挂号").click()
    page.get_by_label("搜索").fill("王晓明")
    page.get_by_role("button", name="搜索").click()
    # The search replaces the list in place, and the list before it (every doctor) may show this doctor too, not
    # first. Wait until only matching doctors are listed, and open this doctor's own row.
    doctors = page.locator("ul.doctors > li")
    expect(doctors.filter(has_not_text="王晓明")).to_have_count(0)
    doctors.filter(has_text="王晓明").first.get_by_role("button", name="出诊时间").click()
    first = page.locator("li.session").first
    expect(first.locator("strong.remaining")).to_have_text("3")
    first.get_by_role("button", name="预约").click()
    expect(first.locator("strong.remaining")).to_have_text("2")
    expect(watched).to_have_text("2")  # pushed to the other browser over SSE, no reload
    page.get_by_label("就诊人姓名").fill("张三")
    page.get_by_label("身份证号").fill("123")
    page.get_by_label("手机号").fill(MOBILE)
    page.get_by_role("button", name="确认挂号").click()
    expect(page.get_by_role("alert").filter(has_text="身份证号")).to_contain_text("身份证号无效")
    page.get_by_label("身份证号").fill(ID_NUMBER)
    page.get_by_role("button", name="确认挂号").click()
    page.get_by_role("heading", name="就诊凭证").wait_for()
    qr = page.get_by_alt_text("就诊凭证 QR")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 50
    body = page.locator("main").inner_text()
    assert ID_NUMBER not in body and MOBILE not in body  # masked on the voucher
    assert "王晓明" in body and "已预约" in body
    patient.shot(shots, "voucher-phone")
    page.get_by_role("button", name="取消预约").click()
    expect(page.locator("main")).to_contain_text("已取消")
    expect(watched).to_have_text("3")  # the slot came back
    patient.open("booking")
    expect(page.locator("main")).to_contain_text("我的预约")
    patient.shot(shots, "booking-phone")
    page.set_viewport_size(DESKTOP)
    patient.shot(shots, "booking-desktop")
    for tab in (patient, watcher):
        assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
        tab.close()


@needs_reminders
def test_patient_creates_a_plan_and_marks_a_dose_taken(stack, browser, shots):
    from datetime import datetime

    tab = Tab(browser, stack, PHONE)
    page = tab.page
    _register_and_login(tab, "web_patient_4")
    page.get_by_role("navigation", name="main").get_by_role("link", name="用药").click()
    page.get_by_role("heading", name="新的用药计划").wait_for()
    page.get_by_label("药品").fill("二甲双胍")
    page.get_by_label("每次剂量").fill("500")
    page.get_by_label("单位").fill("mg")
    page.get_by_label("服药安排").select_option("times")
    later = "23:59" if datetime.now().strftime("%H:%M") < "23:50" else "23:58"
    # Mistakes are told in words and named by the form's own labels, not as API paths ("body.end_date").
    page.get_by_label("每天的时间").fill("25:99")
    page.get_by_role("button", name="添加计划").click()
    expect(page.get_by_role("alert").filter(has_text="时间")).to_have_text("时间格式不对：请用 24 小时制，例如 08:00。（每天的时间）")
    page.get_by_label("每天的时间").fill(f"00:00, {later}")
    page.get_by_label("开始日期").fill("2030-06-10")
    page.get_by_label("结束日期（可选）").fill("2030-06-01")
    page.get_by_role("button", name="添加计划").click()
    expect(page.get_by_role("alert").filter(has_text="日期")).to_have_text("结束日期不能早于开始日期。（结束日期）")
    page.get_by_label("开始日期").fill(datetime.now().strftime("%Y-%m-%d"))
    page.get_by_label("结束日期（可选）").fill("")
    page.get_by_label("现有存量").fill("3")
    page.get_by_label("提前几天提醒续药").fill("7")
    tab.shot(shots, "medication-form-phone")
    page.get_by_role("button", name="添加计划").click()
    page.get_by_text("二甲双胍 500mg").first.wait_for()
    expect(page.locator(".banner.warn")).to_contain_text("该续药了")  # 3 tablets, 2 a day, 7 days ahead
    doses = page.locator("li.dose")
    expect(doses.first).to_be_visible()
    open_dose = page.locator("li.dose", has=page.get_by_role("button", name="已服用")).last
    open_dose.get_by_role("button", name="已服用").click()
    expect(page.locator("li.dose .badge.taken").first).to_be_visible()
    # The plan is edited with another schedule kind.
    page.get_by_role("link", name="编辑").first.click()
    page.get_by_role("heading", name="修改用药计划").wait_for()
    page.get_by_label("服药安排").select_option("meals")
    page.get_by_label("早餐后").check()
    page.get_by_role("button", name="保存").click()
    page.get_by_role("heading", name="新的用药计划").wait_for()  # saved: the page is back to a new-plan form
    expect(page.locator("ul.links li").first).to_contain_text("按三餐")
    expect(page.locator(".chart")).to_be_visible()
    tab.shot(shots, "medication-phone")
    page.set_viewport_size(DESKTOP)
    tab.shot(shots, "medication-desktop")
    assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
    tab.close()


@needs_tips
def test_patient_reads_tips_for_them_searches_and_keeps_a_favourite(stack, browser, shots):
    tab = Tab(browser, stack, PHONE)
    page = tab.page
    _register_and_login(tab, "web_patient_5")
    page.get_by_role("navigation", name="main").get_by_role("link", name="科普").click()
    # Wait for the tips page itself: right after the click the home page's own tip list can still be on screen, and
    # a count taken while the router swaps the pages found no tip at all.
    page.get_by_role("heading", name="科普", level=1).wait_for()
    items = page.locator("li.tip")
    expect(items.first).to_be_visible()
    assert page.locator("li.tip .reason").count() >= 1  # "for you" says why
    first_title = items.first.locator("strong").inner_text()
    items.first.get_by_role("button", name="收藏").click()
    expect(items.first.get_by_role("button", name="已收藏")).to_be_visible()
    page.get_by_role("link", name="我的收藏").click()
    expect(page.locator("li.tip").first).to_contain_text(first_title)
    page.get_by_label("搜索").fill("血糖")
    page.get_by_role("button", name="搜索").click()
    expect(page.locator("li.tip").first).to_be_visible()
    page.locator("li.tip a").first.click()
    expect(page.locator(".tip-body")).to_be_visible()
    tab.shot(shots, "tip-phone")
    assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
    tab.close()


def _toy_classifier(seed: int) -> bytes:
    """A tiny real ONNX classifier (pool -> linear -> softmax over 2 classes) with the registry's classification
    signature, so the upload is validated for real."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(rng.normal(size=(1, 2)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=(2,)).astype(np.float32), "b")]
    nodes = [helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
             helper.make_node("MatMul", ["flat", "w"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probs"], axis=1)]
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 1, 32, 32])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="zhenxi-web-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _login_as_admin(tab: Tab, own_env, username: str) -> None:
    page = tab.page
    _register_and_login(tab, username)
    _promote(own_env, username)
    page.get_by_role("button", name="退出登录").click()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="管理", exact=True).click()
    page.get_by_role("heading", name="管理").wait_for()


@needs_tips
def test_admin_changes_a_role_publishes_a_tip_manages_models_and_reads_statistics(stack, browser, shots, own_env,
                                                                                  tmp_path):
    import httpx

    r = httpx.post(f"{stack}/api/auth/register", json={"username": "web_role_user", "password": PASSWORD})
    assert r.status_code == 201, r.text
    admin = Tab(browser, stack, DESKTOP)
    page = admin.page
    _login_as_admin(admin, own_env, "web_admin_2")
    chips = page.locator("nav.chips")

    # Users and roles: find the user and make them an integrator.
    page.get_by_label("用户名").fill("web_role_user")
    page.get_by_role("button", name="搜索").click()
    # The search is a route change that renders the page again. Wait for the new page's one row: the list before
    # the search also shows this user, and a role changed there was saved but its alert went with the old page.
    page.wait_for_url(re.compile(r"#/admin/users\?q=web_role_user$"))
    expect(page.locator("main table tbody tr")).to_have_count(1)
    role = page.get_by_label("角色 web_role_user")
    role.select_option("integrator")
    expect(page.get_by_role("alert")).to_contain_text("web_role_user → integrator")
    admin.shot(shots, "admin-users-desktop")
    page.reload()
    expect(page.get_by_label("角色 web_role_user")).to_have_value("integrator")  # stored, not just shown

    # Tips: write Markdown, see the service's preview, publish; a patient then finds it.
    chips.get_by_role("link", name="科普").click()
    page.get_by_role("heading", name="科普编辑").wait_for()
    page.get_by_label("标题").fill("饭后散步有助控制血糖")
    page.get_by_label("摘要").fill("每餐后散步十五分钟，血糖更平稳。")
    page.get_by_label("正文").fill("## 为什么\n\n餐后散步能让肌肉**消耗葡萄糖**，减少血糖高峰。")
    expect(page.locator(".preview strong")).to_have_text("消耗葡萄糖")
    expect(page.locator(".preview h2")).to_have_text("为什么")
    admin.shot(shots, "admin-tips-desktop")
    page.get_by_role("button", name="发布").click()
    expect(page.get_by_role("alert")).to_contain_text("已发布")

    # Models: the registry; a tiny real classifier uploaded (validated, staged), promoted, then rolled back.
    chips.get_by_role("link", name="模型").click()
    page.get_by_role("heading", name="模型注册表").wait_for()
    page.get_by_role("heading", name="训练任务").wait_for()
    registry = page.locator("section.card", has=page.get_by_role("heading", name="模型注册表"))
    expect(registry.locator("table")).to_contain_text("chestnet")
    upload = page.locator("section.card", has=page.get_by_role("heading", name="上传模型"))
    for version, seed in (("1", 1), ("2", 2)):
        model = tmp_path / f"toy{version}.onnx"
        model.write_bytes(_toy_classifier(seed))
        upload.get_by_label("ONNX 文件").set_input_files(str(model))
        upload.get_by_label("名称").fill("web-toy")
        upload.get_by_label("任务").select_option("classification")
        upload.get_by_label("版本").fill(version)
        upload.get_by_label("类别名（分类模型）").fill("normal, abnormal" if version == "1" else "")
        upload.get_by_role("button", name="上传").click()
        expect(upload.get_by_role("alert")).to_contain_text(f"已校验并暂存: web-toy {version}")
        row = registry.locator("tr", has_text="web-toy").filter(has=page.locator("td", has_text=re.compile(f"^{version}$")))
        expect(row).to_contain_text("已暂存")
        row.get_by_role("button", name="上线").click()
        expect(registry.get_by_role("alert")).to_contain_text(f"web-toy {version}")
        expect(row).to_contain_text("服务中")
    registry.get_by_role("button", name="回滚 web-toy").click()
    expect(registry.get_by_role("alert")).to_contain_text("web-toy → 1")
    expect(registry.locator("tr", has_text="web-toy").filter(has=page.locator("td", has_text=re.compile("^1$")))).to_contain_text("服务中")
    admin.shot(shots, "admin-models-desktop")

    # Statistics: reports per day (the patient journey's report among them) and adherence as charts.
    chips.get_by_role("link", name="统计").click()
    reports = page.locator("section.card", has=page.get_by_role("heading", name="每日报告（近 30 天）"))
    expect(reports.locator(".stat-line")).to_contain_text("含危急值")
    reports.locator(".chart .u-wrap").wait_for()
    adherence = page.locator("section.card", has=page.get_by_role("heading", name="每日服药依从性（近 30 天）"))
    if REMINDERS:
        adherence.locator(".chart .u-wrap").wait_for()
    if BOOKING:
        page.locator("section.card", has=page.get_by_role("heading", name="每日预约（按就诊日，前 30 天至后 14 天）")).locator(".chart .u-wrap").wait_for()
    admin.shot(shots, "admin-stats-desktop")
    page.set_viewport_size(PHONE)
    admin.shot(shots, "admin-stats-phone")
    assert not [p for p in admin.problems if "Content Security Policy" in p], admin.problems
    admin.close()

    # A patient cannot read the statistics.
    patient = Tab(browser, stack, PHONE)
    _register_and_login(patient, "web_patient_6")
    patient.open("admin/stats")
    expect(patient.page.locator("main")).to_contain_text("只有管理员可以访问此页面")
    patient.page.get_by_role("navigation", name="main").get_by_role("link", name="科普").click()
    patient.page.get_by_label("搜索").fill("饭后散步")
    patient.page.get_by_role("button", name="搜索").click()
    expect(patient.page.locator("li.tip").first).to_contain_text("饭后散步有助控制血糖")
    patient.close()

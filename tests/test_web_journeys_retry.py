"""The report page when a service is down, in a real browser: the section says it is unavailable and why, and its
Retry button runs it again once the service is back. Its own small stack (nlp, report, gateway), so stopping nlp
touches no other journey; a separate module, so its report service is the only one claiming reports."""
import contextlib
import os
import re
from pathlib import Path

import pytest

from zhenxi_common.testing import free_port, running_service

from test_web_journeys import PHONE, Tab, _register_and_login, browser, expect, own_env  # noqa: F401  (browser, own_env: fixtures)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def retry_stack(own_env, tmp_path_factory):
    """nlp (stoppable, restartable on the same port), report and the gateway, as real processes."""
    env = dict(os.environ)
    env.update(own_env)
    env["NLP_DENSE_RETRIEVAL"] = "false"
    nlp_port = free_port()
    env.update({"REPORT_NLP_URL": f"http://127.0.0.1:{nlp_port}", "GATEWAY_NLP_URL": f"http://127.0.0.1:{nlp_port}",
                "REPORT_UPLOAD_DIR": str(tmp_path_factory.mktemp("report-uploads-retry")),
                "REPORT_WORKER_POLL_S": "0.5", "REPORT_NLP_TIMEOUT_S": "20", "REPORT_REMINDERS_URL": ""})
    for name in ("ocr", "xray", "reminders", "booking", "tips"):
        env[f"GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{free_port()}"
    env["REPORT_OCR_URL"], env["REPORT_XRAY_URL"] = env["GATEWAY_OCR_URL"], env["GATEWAY_XRAY_URL"]

    class Nlp:
        def __init__(self) -> None:
            self.stack: contextlib.ExitStack | None = None

        def start(self) -> None:
            self.stack = contextlib.ExitStack()
            self.stack.enter_context(running_service(ROOT / "services" / "nlp", nlp_port, env, timeout_s=240))

        def stop(self) -> None:
            if self.stack is not None:
                self.stack.close()
                self.stack = None

    nlp = Nlp()
    with contextlib.ExitStack() as stack:
        env["GATEWAY_REPORT_URL"] = stack.enter_context(
            running_service(ROOT / "services" / "report", free_port(), env, timeout_s=240))
        gateway = stack.enter_context(running_service(ROOT / "gateway", free_port(), env))
        stack.callback(nlp.stop)
        yield gateway, nlp


def test_an_unavailable_section_shows_its_reason_and_retry_brings_it_back(retry_stack, browser):  # noqa: F811
    gateway, nlp = retry_stack
    folder = Path(os.environ.get("ZHENXI_SCREENSHOTS", ROOT / ".zhenxi" / "screenshots" / "web")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    tab = Tab(browser, gateway, PHONE)
    page = tab.page
    _register_and_login(tab, "web_retry_patient")
    page.get_by_role("navigation", name="main").get_by_role("link", name="分析").click()
    page.get_by_label("症状描述（可选）").fill("咳嗽三天，有点发热")
    page.get_by_role("button", name="开始分析").click()   # nlp is not running: the symptoms section cannot be done
    section = page.locator("section.unavailable[data-section=symptoms]")
    section.wait_for(timeout=120_000)
    expect(section).to_contain_text("这部分暂时无法完成")
    expect(section).to_contain_text(re.compile("服务暂时无法连接|服务暂时不可用"))  # the reason, from its code
    tab.shot(folder, "report-unavailable-phone")

    nlp.start()
    section.get_by_role("button", name="重试").click()
    page.locator("section.card", has=page.get_by_role("heading", name="症状分析")).wait_for(timeout=120_000)
    expect(page.locator("section.unavailable")).to_have_count(0)
    expect(page.locator(".downloads")).to_be_visible()
    assert not [p for p in tab.problems if "Content Security Policy" in p], tab.problems
    tab.close()

"""Per-route upstream budgets: the longest matching prefix wins; rendering a report (PDF/HTML) gets more than a
plain read, which a loaded machine could not start answering within the default GET budget."""
from app.config import Settings


def test_report_renders_get_a_longer_budget_than_other_reads():
    s = Settings()
    report, tips = s.upstream_budget_s("GET", "/api/report/v1/reports/0b3c"), s.upstream_budget_s("GET", "/api/tips/v1")
    assert report > tips
    assert report >= 30
    assert s.upstream_budget_s("GET", "/api/booking/v1/slots") == s.upstream_budgets_s["GET"]
    assert s.upstream_budget_s("POST", "/api/report/v1/reports") == s.upstream_budgets_s["POST /api/report/"]
    assert s.upstream_budget_s("DELETE", "/api/report/v1/reports/0b3c") == s.upstream_budgets_s["*"]

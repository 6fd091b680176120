"""Markdown bodies become sanitised HTML: no script, no event handlers, no javascript: URLs."""
from html.parser import HTMLParser

from app.rendering import render_markdown

HOSTILE = """# 标题

<script>alert('x')</script>

<img src="x.png" onerror="alert(1)">

<a href="javascript:alert(2)" onclick="steal()">click</a> [md link](javascript:alert(3))

<iframe src="https://evil.example"></iframe><div style="background:url(javascript:alert(4))">styled</div>

<svg onload="alert(5)"><circle/></svg> <a href="JaVaScRiPt:alert(6)">mixed case</a>

[ok](https://medlineplus.gov/) **bold**
"""


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


def test_scripts_handlers_and_javascript_urls_are_removed():
    html = render_markdown(HOSTILE)
    p = _Collect()
    p.feed(html)
    assert not {"script", "iframe", "svg", "div"} & set(p.tags)
    assert not [k for k, _ in p.attrs if k.startswith("on") or k == "style"]
    assert not [v for k, v in p.attrs if k in ("href", "src") and v.strip().lower().startswith("javascript:")]
    assert "alert('x')" not in html


def test_ordinary_markdown_survives():
    html = render_markdown(HOSTILE)
    assert "<h1>标题</h1>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://medlineplus.gov/"' in html and 'rel="noopener noreferrer nofollow"' in html
    table = render_markdown("| a | b |\n| --- | --- |\n| 1 | 2 |")
    assert "<table>" in table and "<td>2</td>" in table

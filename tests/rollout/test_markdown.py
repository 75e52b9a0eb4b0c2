"""Markdown rendering strips every script vector."""
import pytest

from rollout.markdown import render_markdown

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<svg><script>alert(1)</script></svg>',
    '<svg onload="alert(1)"><circle r="5"/></svg>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<object data="x.swf"></object>',
    '<form action="https://evil.example"><input></form>',
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payloads_are_removed(payload):
    html = str(render_markdown("before\n\n" + payload + "\n\nafter")).lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<svg", "<style", "data:text",
                "<object", "<form", "style="):
        assert bad not in html, (payload, html)
    assert "before" in html and "after" in html


def test_markdown_formatting_survives():
    html = str(render_markdown("# 标题\n\n**粗体** and [链接](https://example.com)\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    assert "<h1>标题</h1>" in html and "<strong>粗体</strong>" in html
    assert 'href="https://example.com"' in html and "<table>" in html


def test_empty_markdown():
    assert str(render_markdown(None)) == ""

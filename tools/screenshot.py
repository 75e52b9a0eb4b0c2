"""Log in as a demo user and screenshot pages in headless Chromium.

Usage: python tools/screenshot.py --base http://127.0.0.1:5101 --user rep --lang en \
           --out /tmp/shots /plans/ /plans/customers
Writes one PNG per path (full page) into --out; prints the file names.
"""
import argparse
import os
import re

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:5101")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="rollout-demo-2026")
    parser.add_argument("--lang", default="zh_CN", choices=["zh_CN", "en"])
    parser.add_argument("--out", default="/tmp/shots")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    accept = "zh-CN,zh;q=0.9" if args.lang == "zh_CN" else "en-US,en;q=0.9"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": args.width, "height": 900},
                                      extra_http_headers={"Accept-Language": accept})
        page = context.new_page()
        page.goto(f"{args.base}/login")
        page.fill("#username", args.user)
        page.fill("#password", args.password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for path in args.paths:
            page.goto(args.base + path)
            page.wait_for_load_state()
            name = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "home"
            target = os.path.join(args.out, f"{name}-{args.user}-{args.lang}.png")
            page.screenshot(path=target, full_page=True)
            print(target)
        browser.close()


if __name__ == "__main__":
    main()

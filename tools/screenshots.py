"""Look at the built docs site in a real browser: headless Chromium takes a screenshot of the
home page, one chapter and one API page, and what the pages print to the browser's console
(errors, failed loads) is reported.

    python -m mkdocs build --strict -d site
    python tools/screenshots.py site screenshots/       # writes home.png, chapter.png, api.png

The site is served from its folder on a free local port for the time of the run. Exit status 1
if a page logs an error to the console (or Chromium fails), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import functools
import re
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = {
    "home": "",
    "chapter": "tutorials/01_backprop_by_hand/",
    "api": "reference/layers/",
}
"""The pages looked at: the picture's name, and the page's address in the site."""
CONSOLE = re.compile(r'CONSOLE\(\d+\)\] "(.*)", source: (\S*)')
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # no line per request
        pass


def look(browser: str, url: str, picture: Path) -> list[str]:
    """Take a screenshot of ``url`` into ``picture``; return the console's messages."""
    done = subprocess.run(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,1400", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", f"--screenshot={picture}", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    messages = [f"{m[1]} ({m[2]})" for m in CONSOLE.finditer(done.stderr)]
    if done.returncode != 0 or not picture.exists():
        messages.append(f"Chromium failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build -d SITE)")
    parser.add_argument("out", type=Path, help="the folder for the screenshots")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        parser.error(f"{args.site} holds no index.html: build the site first (mkdocs build)")
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        parser.error("no Chromium found: apt-get install chromium (or brew install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(QuietHandler, directory=str(args.site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    failed = False
    try:
        for name, page in PAGES.items():
            picture = args.out / f"{name}.png"
            messages = look(browser, f"http://127.0.0.1:{server.server_port}/{page}", picture)
            print(f"{picture}: /{page}: " + ("no console messages" if not messages else ""))
            for message in messages:
                print(f"  console: {message}")
            failed = failed or bool(messages)
    finally:
        server.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The first load of a room page (HTML, CSS, JS) as a browser gets it: bytes on the wire.

    python -m ops.bench.pageweight http://127.0.0.1:8080/rooms/general SESSION_COOKIE

Fetches the page with curl --compressed (Accept-Encoding: gzip, deflate, br...), then each
stylesheet and script the page links, and adds up what curl downloaded (body as sent,
compressed or not) and the response headers. The fan-out bench prints this for its room.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urljoin

ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')


@dataclass
class Fetched:
    url: str
    status: int
    body_bytes: int
    header_bytes: int
    encoding: str


def fetch(url: str, cookie: str | None) -> tuple[Fetched, str]:
    command = ["curl", "-sS", "--compressed", "-o", "-", "-D", "/dev/stderr"]
    if cookie:
        command += ["-H", f"Cookie: session={cookie}"]
    command += ["-w", "\n%{http_code} %{size_download} %{size_header}", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    body, _, tail = done.stdout.rpartition("\n")
    status, size, headers = (int(x) for x in tail.split())
    match = re.search(r"^content-encoding:\s*(\S+)", done.stderr, re.I | re.M)
    return Fetched(url, status, size, headers, match.group(1) if match else "identity"), body


def page_weight(page_url: str, cookie: str | None) -> list[Fetched]:
    page, html = fetch(page_url, cookie)
    fetched = [page]
    for href in ASSET.findall(html):
        fetched.append(fetch(urljoin(page_url, href), cookie)[0])
    return fetched


def summary(fetched: list[Fetched]) -> str:
    total = sum(f.body_bytes + f.header_bytes for f in fetched)
    parts = ", ".join(
        f"{f.url.rsplit('/', 1)[-1].split('?')[0]} {f.body_bytes:,} B {f.encoding}"
        + ("" if f.status == 200 else f" (HTTP {f.status})")
        for f in fetched
    )
    return f"first page load: {total / 1024:.1f} KB transferred with headers ({parts})"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    fetched = page_weight(args[0], args[1] if len(args) > 1 else None)
    print(summary(fetched))
    return 0 if sum(f.body_bytes + f.header_bytes for f in fetched) < 100 * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())

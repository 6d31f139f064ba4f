#!/usr/bin/env python3
"""Checks the internal links of the built book: every relative href or src of every page
must name a file the build wrote, and every #fragment an id on the page it names. Links
into this repository on GitHub (`.../cachegen/cachegen/blob/main/<path>`) must name a
file or folder of the checkout, so a moved file cannot leave the book pointing nowhere.

    scripts/check_book_links.py docs/book

Links to other sites are not fetched (CI reaches no network but the package registries).
Exits 1 naming each broken link, with the page it is on.
"""
import html.parser
import os
import sys
import urllib.parse

# Pages mdBook writes for the whole site, whose links are absolute or script-made.
SKIPPED_PAGES = {"404.html"}
# The repository's own files on GitHub, checked against the checkout this script is in.
REPOSITORY = "https://github.com/cachegen/cachegen/"
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Page(html.parser.HTMLParser):
    """The ids and the links of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids = set()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            if name in ("href", "src") and value:
                self.links.append(value)


def parse(path):
    page = Page()
    with open(path, encoding="utf-8") as file:
        page.feed(file.read())
    return page


def repository_link_problems(page, link):
    """A link to a file of this repository on GitHub: `blob|tree/main/<path>` must exist."""
    parts = urllib.parse.urlsplit(link).path.split("/")[3:]  # after /cachegen/cachegen/
    if len(parts) < 2 or parts[:2] not in (["blob", "main"], ["tree", "main"], ["edit", "main"]):
        return []
    target = os.path.join(CHECKOUT, *parts[2:])
    if os.path.exists(urllib.parse.unquote(target)):
        return []
    return [f"{page}: {link}: no `{'/'.join(parts[2:])}` in the repository"]


def main(book):
    pages = {}
    for directory, _, files in os.walk(book):
        for name in files:
            if name.endswith(".html"):
                path = os.path.join(directory, name)
                pages[os.path.normpath(path)] = parse(path)
    broken = []
    checked = 0
    for path, page in sorted(pages.items()):
        if os.path.basename(path) in SKIPPED_PAGES:
            continue
        for link in page.links:
            if link.startswith(REPOSITORY):
                broken += repository_link_problems(path, link)
                continue
            url = urllib.parse.urlsplit(link)
            if url.scheme or url.netloc or link.startswith("/"):
                continue
            checked += 1
            target = path
            if url.path:
                target = os.path.normpath(os.path.join(os.path.dirname(path), urllib.parse.unquote(url.path)))
                if os.path.isdir(target):
                    target = os.path.join(target, "index.html")
                if not os.path.exists(target):
                    broken.append(f"{path}: {link}: no such file")
                    continue
            if url.fragment and target.endswith(".html"):
                ids = pages[target].ids if target in pages else parse(target).ids
                if urllib.parse.unquote(url.fragment) not in ids:
                    broken.append(f"{path}: {link}: no id `{url.fragment}` on that page")
    if checked < 100:
        broken.append(f"only {checked} internal links found in {book}: is the book built?")
    for line in broken:
        print(line, file=sys.stderr)
    print(f"{checked} internal links checked in {len(pages)} pages, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

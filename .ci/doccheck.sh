#!/usr/bin/env bash
# doccheck.sh: every relative link in README.md, CHANGELOG.md and
# docs/*.md points to a file or folder that exists, and every #anchor
# (in the same page or in another .md page) to a heading of that page,
# spelt as GitHub spells heading anchors. Links to other sites
# (http:, https:, mailto:) and text in code blocks or `code spans` are
# not checked. Prints each broken link as FILE:LINE: target (why) and
# exits 1 if there is one.
#
#   bash .ci/doccheck.sh            from anywhere in the repository
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

python3 - README.md CHANGELOG.md docs/*.md <<'EOF'
import os
import re
import sys
import unicodedata

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# [text](target "title") and ![alt](target); the text may hold `code`.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
CODESPAN = re.compile(r"(`+)(.+?)\1")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def slug(text):
    """The anchor GitHub gives a heading: markup dropped, lower case,
    punctuation removed, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "-_" or cat[0] in "LN" or cat == "Mn":
            out.append(ch)
        elif ch == " ":
            out.append("-")
    return "".join(out)


def lines_outside_code(path):
    """(line number, text) of the lines outside fenced code blocks."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = FENCE.match(line)
            if m:
                if fence is None:
                    fence = m.group(1)
                elif m.group(1) == fence:
                    fence = None
                continue
            if fence is None:
                yield n, line.rstrip("\n")


anchor_cache = {}


def anchors(path):
    if path not in anchor_cache:
        seen, found = {}, set()
        for _, line in lines_outside_code(path):
            m = HEADING.match(line)
            if not m:
                continue
            s = slug(m.group(2))
            k = seen.get(s, 0)
            seen[s] = k + 1
            found.add(s if k == 0 else "%s-%d" % (s, k))
        for _, line in lines_outside_code(path):
            for a in re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", line):
                found.add(a)
        anchor_cache[path] = found
    return anchor_cache[path]


bad = 0
checked = 0
for page in sys.argv[1:]:
    if not os.path.isfile(page):
        continue
    base = os.path.dirname(page)
    for n, line in lines_outside_code(page):
        text = CODESPAN.sub("", line)
        targets = INLINE.findall(text)
        m = REFDEF.match(text)
        if m:
            targets.append(m.group(1))
        for target in targets:
            if EXTERNAL.match(target):
                continue
            checked += 1
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(base, path)) if path else page
            why = None
            if not os.path.exists(dest):
                why = "no such file"
            elif anchor and dest.endswith(".md") and os.path.isfile(dest):
                if anchor not in anchors(dest):
                    why = "no heading with anchor #%s in %s" % (anchor, dest)
            if why:
                bad += 1
                print("%s:%d: %s (%s)" % (page, n, target, why))
if bad:
    print("doccheck: %d broken link(s) of %d" % (bad, checked), file=sys.stderr)
    sys.exit(1)
print("doccheck: %d relative link(s) in %d page(s), all found" % (checked, len(sys.argv) - 1))
EOF

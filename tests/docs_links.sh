#!/usr/bin/env bash
# Every relative link of README.md and docs/**/*.md resolves: the file exists, and a
# #anchor names a heading of the target page (GitHub's anchors: lower case, punctuation
# dropped, spaces to hyphens, -1, -2 ... for repeats). First checks that the checker finds
# a broken file link and a broken anchor in a page made for that.
#   bash tests/docs_links.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # ROOT FILES... ; prints each broken link, exits 1 if any
  /usr/bin/python3 - "$@" <<'PY'
import os, re, sys, unicodedata

root, files = sys.argv[1], sys.argv[2:]

def lines_outside_code(path, keep_inline_code=False):
    fence = False
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            yield n, line if keep_inline_code else re.sub(r"`[^`]*`", "", line)

def slug(heading):
    s = heading.strip().lower()
    s = "".join(ch for ch in s.replace("`", "") if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return s.replace(" ", "-")

anchors = {}
def anchors_of(path):
    if path not in anchors:
        seen, names = {}, set()
        for _, line in lines_outside_code(path, keep_inline_code=True):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                base = slug(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("*", ""))
                k = seen.get(base, 0)
                names.add(base if k == 0 else f"{base}-{k}")
                seen[base] = k + 1
        anchors[path] = names
    return anchors[path]

broken = checked = 0
for f in files:
    path = os.path.join(root, f)
    for n, line in lines_outside_code(path):
        for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", line):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            checked += 1
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(dest):
                print(f"{f}:{n}: link to {target}: no such file")
                broken += 1
            elif anchor and dest.endswith(".md") and anchor not in anchors_of(dest):
                print(f"{f}:{n}: link to {target}: no heading '#{anchor}' in {os.path.relpath(dest, root)}")
                broken += 1
print(f"docs_links: {checked} relative links in {len(files)} pages, {broken} broken")
sys.exit(1 if broken else 0)
PY
}

# The checker itself: a page with one good link, a missing file and a missing anchor.
mkdir -p "$tmp/docs"
printf '# Top\n\n## A heading, with *words*\n\n[ok](#a-heading-with-words) [gone](nothing.md) [bad](#nowhere) [up](../README.md#top)\n' > "$tmp/docs/page.md"
printf '# Top\n' > "$tmp/README.md"
if check "$tmp" docs/page.md > "$tmp/out"; then
  cat "$tmp/out"; echo "FAIL: the checker passed a page with broken links"; exit 1
fi
grep -q "nothing.md: no such file" "$tmp/out" && grep -q "no heading '#nowhere'" "$tmp/out" \
  && [ "$(grep -c '^docs/page.md' "$tmp/out")" = 2 ] || { cat "$tmp/out"; echo "FAIL: the checker missed or invented a broken link"; exit 1; }

cd "$src"
mapfile -t pages < <(ls README.md; find docs -name '*.md' | sort)
check "$src" "${pages[@]}"

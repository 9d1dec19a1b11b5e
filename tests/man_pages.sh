#!/usr/bin/env bash
# The manual pages the build made (build/man, by abp man --dir) against --help: a page per
# command of abp --help and the overview; every option that `abp CMD --help` lists is in
# the command's page; each page equals what `abp man CMD` prints now; groff renders every
# page, and man the page of train, without a warning.
#   bash tests/man_pages.sh ABP MAN_DIR
set -euo pipefail
abp=$1 mandir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# page -> plain rendered text on stdout, every groff warning on stderr (what man --warnings
# runs; groff alone, since man's pipeline costs a second a page on a loaded machine)
render() { groff -man -Tutf8 -ww -P-cbou "$1"; }

commands=$("$abp" --help | awk '/^commands:/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }')
[ "$(echo "$commands" | wc -w)" -ge 10 ] || fail "abp --help lists only: $commands"
pages=0 options=0
for page in abp $(printf 'abp-%s ' $commands); do
  file=$mandir/$page.1
  [ -s "$file" ] || fail "no manual page $file"
  render "$file" > "$tmp/$page.txt" 2> "$tmp/warn" || fail "groff could not render $file"
  [ ! -s "$tmp/warn" ] || { cat "$tmp/warn"; fail "$file renders with warnings"; }
  grep -q "^NAME" "$tmp/$page.txt" || fail "$file has no NAME section"
  pages=$((pages + 1))
done
# man itself, once (man-db; jobs/test.sh installs it)
if command -v man > /dev/null; then
  MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -E UTF-8 -l "$mandir/abp-train.1" > "$tmp/man.txt" 2> "$tmp/warn" \
    || fail "man -l could not render abp-train.1"
  [ ! -s "$tmp/warn" ] || { cat "$tmp/warn"; fail "man -l warns about abp-train.1"; }
  grep -q -- "--langevin-steps" "$tmp/man.txt" || fail "man -l abp-train.1 lacks --langevin-steps"
fi
# The overview names every command.
for cmd in $commands; do grep -q "^\.B $cmd\$" "$mandir/abp.1" || fail "abp.1 does not list $cmd"; done

for cmd in $commands; do
  file=$mandir/abp-$cmd.1
  "$abp" man "$cmd" > "$tmp/now.1" || fail "abp man $cmd failed"
  cmp -s "$tmp/now.1" "$file" || fail "$file is not what abp man $cmd prints (stale build?)"
  "$abp" "$cmd" --help > "$tmp/help"
  # every option line of --help, "  --name ...", must be an entry ".B \-\-name" of the page
  sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' "$tmp/help" | sort > "$tmp/help.opts"
  sed -n 's/^\.B \\-\\-\([a-z0-9\\-]*\).*/\1/p' "$file" | sed 's/\\-/-/g' | sort > "$tmp/page.opts"
  missing=$(comm -23 "$tmp/help.opts" "$tmp/page.opts")
  [ -z "$missing" ] || fail "abp $cmd --help has $(echo "$missing" | sed 's/^/--/' | tr '\n' ' ')but its manual page does not"
  [ -s "$tmp/help.opts" ] || [ "$cmd" = info ] || fail "abp $cmd --help lists no options"
  options=$((options + $(wc -l < "$tmp/help.opts")))
  # and the synopsis
  syn=$(sed -n "1s/^usage: abp $cmd //p" "$tmp/help" | cut -c1-20)
  if ! tr -s ' ' < "$tmp/abp-$cmd.txt" | grep -qF -- "$syn"; then
    # CI once failed here on train, not reproduced on the same Debian 12 image (2026-12-03):
    # show what groff made of the page and of its source, and the space left, to say why
    echo "rendered ($(wc -c < "$tmp/abp-$cmd.txt") bytes):" >&2; sed -n 1,12p "$tmp/abp-$cmd.txt" | cat -A >&2
    echo "source:" >&2; sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$file" >&2
    df -h "$tmp" >&2 || true
    fail "the page of $cmd lacks its synopsis '$syn'"
  fi
done
[ "$options" -ge 100 ] || fail "only $options options checked"
if "$abp" man nosuchcommand 2> "$tmp/err"; then fail "abp man accepted an unknown command"; fi
grep -q "unknown command 'nosuchcommand'" "$tmp/err" || fail "abp man's error: $(cat "$tmp/err")"
echo "man_pages: $pages pages render without warnings; $options options of --help all in the pages"

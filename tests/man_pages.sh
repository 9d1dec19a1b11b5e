#!/usr/bin/env bash
# The manual pages the build made (build/man, by abp man --dir) against --help: a page per
# command of abp --help and the overview; every option that `abp CMD --help` lists is in
# the command's page; each page equals what `abp man CMD` prints now; man (or groff)
# renders every page without a warning.
#   bash tests/man_pages.sh ABP MAN_DIR
set -euo pipefail
abp=$1 mandir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

render() { # page -> rendered text on stdout, warnings on stderr
  if command -v man > /dev/null; then
    MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -E UTF-8 -l "$1"
  else
    groff -man -Tutf8 -ww "$1"
  fi
}

commands=$("$abp" --help | awk '/^commands:/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }')
[ "$(echo "$commands" | wc -w)" -ge 10 ] || fail "abp --help lists only: $commands"
pages=0 options=0
for page in abp $(printf 'abp-%s ' $commands); do
  file=$mandir/$page.1
  [ -s "$file" ] || fail "no manual page $file"
  render "$file" > "$tmp/text" 2> "$tmp/warn" || fail "man could not render $file"
  [ ! -s "$tmp/warn" ] || { cat "$tmp/warn"; fail "$file renders with warnings"; }
  grep -q "^NAME" "$tmp/text" || fail "$file has no NAME section"
  pages=$((pages + 1))
done
# The overview names every command.
for cmd in $commands; do grep -q "^\.B $cmd\$" "$mandir/abp.1" || fail "abp.1 does not list $cmd"; done

for cmd in $commands; do
  file=$mandir/abp-$cmd.1
  "$abp" man "$cmd" > "$tmp/now.1" || fail "abp man $cmd failed"
  cmp -s "$tmp/now.1" "$file" || fail "$file is not what abp man $cmd prints (stale build?)"
  "$abp" "$cmd" --help > "$tmp/help"
  # every option line of --help, "  --name ...", must be an entry ".B \-\-name" of the page
  for opt in $(sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' "$tmp/help"); do
    roff=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    grep -q "^\.B \\\\-\\\\-$roff\( \|\$\)" "$file" || fail "abp $cmd --help has --$opt, its manual page does not"
    options=$((options + 1))
  done
  # and the synopsis
  syn=$(sed -n "1s/^usage: abp $cmd //p" "$tmp/help" | cut -c1-20)
  render "$file" 2> /dev/null | tr -s ' ' | grep -qF -- "$syn" || fail "the page of $cmd lacks its synopsis '$syn'"
done
[ "$options" -ge 100 ] || fail "only $options options checked"
"$abp" man nosuchcommand 2> "$tmp/err" && fail "abp man accepted an unknown command"
grep -q "unknown command 'nosuchcommand'" "$tmp/err" || fail "abp man's error: $(cat "$tmp/err")"
echo "man_pages: $pages pages render without warnings; $options options of --help all in the pages"

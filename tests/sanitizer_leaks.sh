#!/usr/bin/env bash
# LeakSanitizer is on in the sanitizer build, and tests/lsan.supp hides only what Open MPI,
# HDF5 and their libraries keep until exit: tool_leak (MPI, HDF5 and abp used and freed)
# must exit 0 under it, and tool_leak --leak (one allocation of libabp's dropped) must fail
# with a report of exactly that one allocation, naming abp's function. Run by ctest in the
# sanitizer build only, with the ASAN_OPTIONS and LSAN_OPTIONS every test there gets.
# Usage: sanitizer_leaks.sh TOOL_LEAK
set -uo pipefail
tool=$1
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

case ${ASAN_OPTIONS:-} in *detect_leaks=1*) ;; *) fail "ASAN_OPTIONS does not turn leak detection on: '${ASAN_OPTIONS:-}'" ;; esac
case ${LSAN_OPTIONS:-} in *suppressions=*lsan.supp*) ;; *) fail "LSAN_OPTIONS does not name tests/lsan.supp: '${LSAN_OPTIONS:-}'" ;; esac

# Nothing of abp's left at exit: the suppressions cover everything else.
out=$("$tool" 2>&1); rc=$?
if [ $rc -eq 0 ] && ! grep -q 'LeakSanitizer' <<<"$out"; then ok; else
  fail "tool_leak without a leak: exit $rc"; printf '%s\n' "$out" | head -40; fi

# One allocation of libabp's dropped: reported, named, and the run fails.
out=$("$tool" --leak 2>&1); rc=$?
if [ $rc -ne 0 ]; then ok; else fail "tool_leak --leak exited 0: the leak went unnoticed"; fi
if grep -q 'ERROR: LeakSanitizer: detected memory leaks' <<<"$out"; then ok; else fail "no LeakSanitizer report"; fi
if grep -qE 'in abp_spec_resize_latent .*spec\.c' <<<"$out"; then ok; else fail "the report does not name abp_spec_resize_latent"; fi
# Exactly one allocation: no leak of Open MPI's or HDF5's slipped past the suppressions.
if grep -qE 'SUMMARY: AddressSanitizer: [0-9]+ byte\(s\) leaked in 1 allocation\(s\)' <<<"$out"; then ok; else
  fail "expected a summary of 1 leaked allocation"; fi
[ $failed -eq 0 ] || printf '%s\n' "$out" | head -60

echo "sanitizer_leaks: $pass passed, $failed failed"
[ $failed -eq 0 ]

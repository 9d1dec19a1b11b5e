# What the shell tests share: pass/fail counters and their checks. Source it after setting
# bin (the folder of the abp binary, for ckpt_diff):  source "$(dirname "$0")/lib.sh"
# ok NAME EXPR: EXPR (eval'd) must hold.  expect NAME TEXT -- COMMAND...: COMMAND must fail
# with exactly one line on stderr that contains TEXT.  expect_mpi NAME TEXT -- mpirun ...:
# the same for a command under mpirun, whose own report of a rank's non-zero exit (its
# banner, mpirun_lines) is not counted.  diff_ok A B TOL: two checkpoints agree.
pass=0 failed=0
ok() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi; }
# expect_with COUNT NAME TEXT -- COMMAND...: COUNT (a command) reads COMMAND's stderr and
# prints the lines that count; exactly one must remain, and stderr must contain TEXT.
expect_with() {
  local count=$1 name=$2 want=$3; shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ] || [ "$(printf '%s\n' "$err" | "$count" | grep -c .)" -ne 1 ] || ! grep -qF -- "$want" <<<"$err"; then
    echo "FAIL $name (exit $rc): $err"; failed=$((failed + 1)); return
  fi
  pass=$((pass + 1))
}
expect() { expect_with cat "$@"; } # NAME TEXT -- COMMAND...
# stdin without what mpirun itself writes when a rank exits non-zero (Open MPI's banner)
mpirun_lines() {
  grep -v '^---\|^Primary job\|^mpirun\|^-\{5\}\|^ \|^$\|process\|aborted\|Local host\|MPI_COMM\|errorcode\|NOTE\|You may'
}
expect_mpi() { expect_with mpirun_lines "$@"; } # NAME TEXT -- mpirun ... COMMAND...
diff_ok() { "$bin/ckpt_diff" "$1" "$2" "$3" >/dev/null; }

# What the shell tests share: pass/fail counters and their checks. Source it after setting
# bin (the folder of the abp binary, for ckpt_diff):  source "$(dirname "$0")/lib.sh"
# ok NAME EXPR: EXPR (eval'd) must hold.  expect NAME TEXT -- COMMAND...: COMMAND must fail
# with exactly one line on stderr that contains TEXT.  diff_ok A B TOL: two checkpoints agree.
pass=0 failed=0
ok() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL $1"; failed=$((failed + 1)); fi; }
expect() { # NAME TEXT -- COMMAND...
  local name=$1 want=$2; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ] || [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ] || ! grep -qF -- "$want" <<<"$err"; then
    echo "FAIL $name (exit $rc): $err"; failed=$((failed + 1)); return
  fi
  pass=$((pass + 1))
}
diff_ok() { "$bin/ckpt_diff" "$1" "$2" "$3" >/dev/null; }

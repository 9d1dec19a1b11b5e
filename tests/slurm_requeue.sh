#!/usr/bin/env bash
# jobs/slurm/train.sbatch against a real Slurm: a private one-node cluster (munged, slurmctld,
# slurmd, all under a temporary folder, on their own ports) runs the job on a tiny data set;
# the test sends the batch shell SIGUSR1 mid-run, as Slurm does before a time limit, and checks
# that the job checkpointed, requeued itself, resumed from the checkpoint and finished, with
# every iteration in metrics.csv exactly once. Every daemon it started is stopped by PID.
#   bash tests/slurm_requeue.sh ABP SRCDIR
# Exits 77 (skipped) without Slurm or root, unless ABP_REQUIRE_SLURM=1 (then it fails).
set -euo pipefail
abp=$(readlink -f "$1") src=$(cd "$2" && pwd)
export PATH=$PATH:/usr/sbin:/sbin
# Nothing from an enclosing Slurm job or the user's sbatch defaults may reach this cluster.
for v in $(compgen -e); do
  case $v in SLURM_* | SBATCH_* | SALLOC_* | SRUN_* | SQUEUE_* | SINFO_* | SCONTROL_*) unset "$v" ;; esac
done
iters=300
t_start=$SECONDS

skip() {
  if [ "${ABP_REQUIRE_SLURM:-0}" = 1 ]; then echo "FAIL: $* (and ABP_REQUIRE_SLURM=1)"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
for cmd in sbatch scontrol scancel sinfo slurmctld slurmd munged; do
  command -v "$cmd" > /dev/null || skip "$cmd not installed (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root to run slurmd and munged"
id munge > /dev/null 2>&1 || skip "no munge user"

tmp=$(mktemp -d /tmp/abp-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()      # daemons started here, stopped in reverse order
job=""
dump() {
  echo "---- job log"; cat "$tmp/work/job.log" 2>/dev/null || true
  [ -n "$job" ] && { echo "---- scontrol show job $job"; scontrol show job "$job" 2>&1 || true; }
  for f in slurmctld.log slurmctld.out slurmd.log slurmd.out munge/munged.log munge/munged.out; do
    echo "---- $f (last 40 lines)"; tail -n 40 "$tmp/$f" 2>/dev/null || true
  done
}
leftovers() {
  local d
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = $$ ] && continue
    case $(readlink "$d/cwd" 2> /dev/null) in "$tmp" | "$tmp"/*) echo "${d#/proc/}"; continue ;; esac
    grep -qzxF "SLURM_CONF=$tmp/slurm.conf" "$d/environ" 2> /dev/null && echo "${d#/proc/}"
  done
}
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  ((rc == 0)) || dump
  # Jobs first (their processes are not children of slurmd), then the daemons, newest first.
  if [ -n "$job" ] && ((${#pids[@]} >= 2)); then
    scancel "$job" 2> /dev/null
    for _ in $(seq 50); do
      state=$(squeue -h -j "$job" -o %T 2> /dev/null)
      [ -z "$state" ] || [ "$state" = COMPLETED ] && break
      sleep 0.2
    done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2> /dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2> /dev/null
    wait "$p" 2> /dev/null
  done
  # Whatever slurmd started and is still there (a slurmstepd retrying to report to the
  # stopped slurmctld, the job's shell, mpirun, abp) runs in a folder under $tmp and has
  # this cluster's SLURM_CONF: end those processes, by PID.
  unset SLURM_CONF
  for p in $(leftovers); do kill -KILL "$p" 2> /dev/null; done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
fail() { echo "FAIL: $*"; exit 1; }
# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s
wait_for() {
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < end)) || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}
free_port() {  # a TCP port no socket uses, below the ephemeral range, away from Slurm's 6817-6819
  local p
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % 20000))
    awk -v p="$(printf '%04X' "$p")" 'FNR > 1 && substr($2, index($2, ":") + 1) == p { f = 1 }
      END { exit !f }' /proc/net/tcp /proc/net/tcp6 2> /dev/null || { echo "$p"; return; }
  done
  fail "no free port"
}

# ---- munged, as the munge user, with its own key, socket, pid, log and seed files
mkdir "$tmp/munge"
head -c 1024 /dev/urandom > "$tmp/munge/munge.key"
chmod 400 "$tmp/munge/munge.key"
chown -R munge:munge "$tmp/munge"
# Each daemon runs in $tmp (so does anything it starts), and is this shell's child: $! is its PID.
(cd "$tmp" && exec setpriv --reuid=munge --regid=munge --init-groups "$(command -v munged)" --foreground \
  --key-file="$tmp/munge/munge.key" --socket="$tmp/munge/munge.socket" \
  --pid-file="$tmp/munge/munged.pid" --log-file="$tmp/munge/munged.log" \
  --seed-file="$tmp/munge/munged.seed") > "$tmp/munge/munged.out" 2>&1 &
pids+=($!)
wait_for 10 "munged" test -S "$tmp/munge/munge.socket"

# ---- slurmctld and slurmd, as root, from a one-node slurm.conf
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/work"
ctld_port=$(free_port) slurmd_port=$(free_port)
[[ $ctld_port =~ ^[0-9]+$ && $slurmd_port =~ ^[0-9]+$ && $ctld_port != "$slurmd_port" ]] || fail "no free TCP ports"
mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
cat > "$tmp/slurm.conf" << EOF
ClusterName=abptest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge/munge.socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=10
MinJobAge=600
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf
(cd "$tmp" && exec slurmctld -D -i -f "$SLURM_CONF") > "$tmp/slurmctld.out" 2>&1 &
pids+=($!)
ctld_up() { scontrol ping 2> /dev/null | grep -q UP; }
wait_for 20 "slurmctld to answer" ctld_up
(cd "$tmp" && exec slurmd -D -N localhost -f "$SLURM_CONF") > "$tmp/slurmd.out" 2>&1 &
pids+=($!)
node_idle() { [ "$(sinfo -h -n localhost -o %t 2> /dev/null)" = idle ]; }
wait_for 30 "the node to be idle" node_idle
echo "slurm: up in $((SECONDS - t_start)) s (ports $ctld_port, $slurmd_port)"

# ---- the job: 300 iterations of a small model on 256 digits, 2 ranks
work=$tmp/work out=$tmp/work/run log=$tmp/work/job.log
job=$(cd "$work" && DATA=$src/datasets/mnist-small/train-images-idx3-ubyte OUT=$out ITERS=$iters \
  MODEL=mnist28 ABP=$abp ABP_ARGS="--limit 256 --batch 32 --langevin-steps 2" \
  sbatch --parsable --export=ALL --output="$log" --time=10 "$src/jobs/slurm/train.sbatch")
job=${job%%;*}
echo "slurm: submitted job $job"
# Signal it once it is well into training (rank 0 prints "iter N/300 ..." every few iterations).
progress() { sed -n 's|^iter \([0-9]*\)/.*|\1|p' "$log" 2> /dev/null | tail -n 1; }
past_40() { local it; it=$(progress); ((${it:-0} >= 40)); }
wait_for 60 "the job to reach iteration 40" past_40
scancel --signal=USR1 --batch "$job"
echo "slurm: sent SIGUSR1 to the batch shell after iteration $(progress)"

# ---- it checkpoints and requeues itself; release it from any begin-time delay; it finishes
show() { scontrol show job "$job" 2> /dev/null; }
field() { show | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
restarts() { local r; r=$(field Restarts); echo "${r:-0}"; }
requeued() { (($(restarts) >= 1)); }
wait_for 60 "the job to requeue itself" requeued
released=0
finished() {
  local state
  state=$(field JobState)
  case $state in
    COMPLETED) return 0 ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) fail "job ended $state" ;;
    PENDING)
      # Slurm 22.05 holds a requeued job until its credentials have expired: EligibleTime is
      # the requeue time + cred_expire + 1 s (121 s by default). Start it sooner, but not in
      # the second of the requeue: slurmd refuses a credential issued no later than the
      # second in which the job was killed ("Job credential revoked"), and the job fails.
      case $(field Reason) in
        BeginTime)
          ((released)) || echo "slurm: requeued job pending until EligibleTime=$(field EligibleTime)" \
                               "(now $(date +%FT%T)): in 2 s, scontrol update JobId=$job StartTime=now"
          sleep 2
          scontrol update JobId="$job" StartTime=now || true
          released=$((released + 1)) ;;
        JobHeld* | job_requeued_in_held_state)
          scontrol release "$job" || true
          released=$((released + 1)) ;;
      esac ;;
  esac
  return 1
}
wait_for 300 "the requeued job to finish" finished
echo "slurm: job finished after $(restarts) restart(s)"

# ---- checks
grep -q "checkpoint: .*checkpoint.h5 (iteration" "$log" || fail "the log has no checkpoint line"
stopped=$(sed -n 's/^checkpoint: .*(iteration \([0-9]*\)[,)].*/\1/p' "$log" | head -n 1)
if [ -z "$stopped" ] || ((stopped >= iters)); then
  fail "the first run did not stop early (checkpoint at '$stopped')"
fi
grep -q "checkpointed and stopped (status 3)" "$log" || fail "the log does not say abp stopped with status 3"
grep -q "requeueing job $job" "$log" || fail "the log does not say the job requeued itself"
grep -q "resuming from $out/checkpoint.h5 (iteration $stopped of $iters)" "$log" \
  || fail "the second run did not resume from the checkpoint of iteration $stopped"
[ "$(grep -c 'train.sbatch: .* job .* restart' "$log")" -eq 2 ] || fail "the job should have started twice"
[ "$(restarts)" = 1 ] || fail "Restarts=$(restarts), expected 1"
[ "$(field ExitCode)" = 0:0 ] || fail "ExitCode=$(field ExitCode)"
at=$("$abp" info "$out/checkpoint.h5" | sed -n 's/^ *iteration \([0-9]*\),.*/\1/p')
[ "$at" = "$iters" ] || fail "the final checkpoint is at iteration '$at', expected $iters"
col=$(head -n 1 "$out/metrics.csv" | tr ',' '\n' | grep -nx iteration | cut -d: -f1)
[ -n "$col" ] || fail "metrics.csv has no iteration column"
diff <(tail -n +2 "$out/metrics.csv" | cut -d, -f"$col") <(seq 1 "$iters") > /dev/null \
  || fail "metrics.csv does not list iterations 1..$iters exactly once, in order"
echo "---- job log"; cat "$log"; echo "----"
echo "PASS slurm_requeue: stopped at iteration $stopped, requeued, resumed, finished $iters" \
     "($((SECONDS - t_start)) s)"

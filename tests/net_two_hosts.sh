#!/usr/bin/env bash
# abp on two "hosts" (issue 14 §3): two network namespaces joined by a veth pair, each with
# its own host name (a UTS namespace), Open MPI started across them over TCP as on a
# cluster: a hostfile with the two names, --mca btl tcp,self (no shared memory between the
# hosts), and an rsh agent (hosts/agent below) that enters the right namespace instead of
# ssh-ing to a machine. The file system is shared, as a cluster's parallel file system is.
#   1. Training on 2 ranks (one per host) with a collective checkpoint ends bitwise where
#      the same run on one host ends, and says it ran on 2 hosts.
#   2. A resume of its mid-run checkpoint on 4 ranks (two per host) ends bitwise where the
#      same resume on one host ends.
#   3. abp reconstruct under the two-host mpirun writes the same picture and error.
# Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2; without them it says why and
# exits 77, which ctest reports as skipped. The namespaces go on every way out.
# Usage: net_two_hosts.sh ABP SRCDIR
set -euo pipefail
abp=$(realpath "$1") src=$2 bin=$(dirname "$abp")
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

command -v ip > /dev/null || skip "no ip command (apt-get install iproute2)"
command -v unshare > /dev/null || skip "no unshare command (util-linux)"
command -v mpirun > /dev/null || fail "no mpirun"
tag=$$
nsA=abp-hostA-$tag nsB=abp-hostB-$tag
vethA=abpA$tag vethB=abpB$tag
tmp=$(mktemp -d)
cleanup() {
  ip netns pids "$nsA" 2> /dev/null | xargs -r kill -9 2> /dev/null || true
  ip netns pids "$nsB" 2> /dev/null | xargs -r kill -9 2> /dev/null || true
  ip netns del "$nsA" 2> /dev/null || true
  ip netns del "$nsB" 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! why=$(ip netns add "$nsA" 2>&1); then skip "cannot create a network namespace: $why"; fi
ip netns add "$nsB"
# A veth pair is a cable: each end goes into one namespace (interface names are at most 15
# characters, hence the short ones).
ip link add "$vethA" type veth peer name "$vethB" || skip "cannot create a veth pair"
ip link set "$vethA" netns "$nsA"
ip link set "$vethB" netns "$nsB"
ip -n "$nsA" addr add 10.214.0.1/24 dev "$vethA"
ip -n "$nsB" addr add 10.214.0.2/24 dev "$vethB"
for ns in "$nsA" "$nsB"; do ip -n "$ns" link set lo up; done
ip -n "$nsA" link set "$vethA" up
ip -n "$nsB" link set "$vethB" up
unshare --uts true 2> /dev/null || skip "cannot create a UTS namespace (for the host names)"

# The rsh agent: Open MPI runs "AGENT HOST COMMAND..." to start its daemon (orted) on HOST.
# Here HOST names a namespace; the command runs inside it under that host name. orted is
# found as on a cluster with a shared file system: the same path (mpirun --prefix would
# put its folder first in PATH).
cat > "$tmp/agent" << EOF
#!/bin/sh
host=\$1; shift
case "\$host" in
  hostA) ns=$nsA ;;
  hostB) ns=$nsB ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/sh -c "hostname \$host && \$*"
EOF
chmod +x "$tmp/agent"
printf 'hostA slots=2\nhostB slots=2\n' > "$tmp/hostfile"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Both daemons' control channel and the ranks' messages over the veth network only; the
# launcher itself runs on hostA's network. --map-by node puts rank r on host r mod 2.
two=(ip netns exec "$nsA" mpirun --hostfile "$tmp/hostfile" --mca plm_rsh_agent "$tmp/agent"
  --mca btl tcp,self --mca btl_tcp_if_include 10.214.0.0/24 --mca oob_tcp_if_include 10.214.0.0/24
  --map-by node --oversubscribe)
one=(mpirun --oversubscribe)

data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
common=(--data "$data" --model "$model" --limit 96 --batch 16 --langevin-steps 2 --threads 1)

# 1. Train on 2 ranks, checkpoint at 4, end at 8.
for where in one two; do
  launch=("${one[@]}"); [ $where = two ] && launch=("${two[@]}")
  "${launch[@]}" -np 2 "$abp" train "${common[@]}" --iters 8 --checkpoint-every 4 --keep-checkpoints 5 \
    --out "$tmp/$where" > "$tmp/$where.log" 2>&1 || { cat "$tmp/$where.log"; fail "training on $where host(s)"; }
done
grep -q "layout: 2 ranks on 2 hosts (hostA: 1, hostB: 1)" "$tmp/two.log" ||
  { cat "$tmp/two.log"; fail "the two-host run did not report 2 hosts"; }
"$bin/ckpt_diff" "$tmp/one/checkpoint.h5" "$tmp/two/checkpoint.h5" 0 > /dev/null ||
  fail "training on two hosts is not bitwise training on one"

# 2. Resume the iteration-4 checkpoint on 4 ranks.
for where in one two; do
  launch=("${one[@]}"); [ $where = two ] && launch=("${two[@]}")
  "${launch[@]}" -np 4 "$abp" train "${common[@]}" --iters 8 --resume "$tmp/$where/checkpoint-00000004.h5" \
    --out "$tmp/$where-4" > "$tmp/$where-4.log" 2>&1 || { cat "$tmp/$where-4.log"; fail "resume on 4 ranks on $where host(s)"; }
done
grep -q "layout: 4 ranks on 2 hosts (hostA: 2, hostB: 2)" "$tmp/two-4.log" ||
  { cat "$tmp/two-4.log"; fail "the 4-rank two-host run did not report 2 + 2"; }
"$bin/ckpt_diff" "$tmp/one-4/checkpoint.h5" "$tmp/two-4/checkpoint.h5" 0 > /dev/null ||
  fail "a 4-rank resume on two hosts is not bitwise the one on one host"

# 3. abp reconstruct of the trained model.
for where in one two; do
  launch=("${one[@]}"); [ $where = two ] && launch=("${two[@]}")
  "${launch[@]}" -np 2 "$abp" reconstruct --ckpt "$tmp/two/checkpoint.h5" --data "$data" --limit 16 \
    --langevin-steps 5 --out "$tmp/rec-$where" > "$tmp/rec-$where.log" 2>&1 ||
    { cat "$tmp/rec-$where.log"; fail "reconstruct on $where host(s)"; }
done
cmp -s "$tmp/rec-one/reconstructions.png" "$tmp/rec-two/reconstructions.png" ||
  fail "reconstructions.png differs between one and two hosts"
[ "$(grep -o 'mse=[0-9.e+-]*' "$tmp/rec-one.log")" = "$(grep -o 'mse=[0-9.e+-]*' "$tmp/rec-two.log")" ] &&
  grep -q 'mse=' "$tmp/rec-one.log" || fail "reconstruct's error differs between one and two hosts"
echo "net_two_hosts: 7 passed (training, checkpoint, 4-rank resume and reconstruct on two hosts over TCP)"

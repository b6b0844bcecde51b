#!/usr/bin/env bash
# A real Slurm run of the README's job array, on a one-node cluster on this machine:
# `painface extract --shard i/3` as an array of 3 tasks over the bundled sample frames (MTCNN
# faces: slow enough to kill a task while it extracts), one task killed mid-extraction and
# resubmitted; the union of the shards must equal a single-machine
# run byte for byte. Installs Debian's slurm-wlm and munge if missing, starts munged,
# slurmctld and slurmd in a scratch folder and stops them at the end.
#   tools/slurm/run.sh [PAINFACE_BINARY]       (default .build/debug/painface)
set -euo pipefail
cd "$(dirname "$0")/../.."
pf=$(realpath "${1:-.build/debug/painface}")
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm: skipped (slurmd and munged run as root here; run as root to include this check)" >&2
  exit 0
fi
SUDO=""
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
w=$(mktemp -d /tmp/painface-slurm.XXXXXX)
host=$(hostname -s)
cleanup() {
  for p in "$w"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  sleep 1
  rm -rf "$w"
}
trap cleanup EXIT
mkdir -p "$w/state" "$w/spool" "$w/munge" "$w/log" "$w/out"
# munge: a key and a socket of our own
dd if=/dev/urandom bs=1 count=1024 of="$w/munge/munge.key" 2>/dev/null
chmod 600 "$w/munge/munge.key"
munged --force --key-file="$w/munge/munge.key" --socket="$w/munge/sock" --pid-file="$w/munged.pid" \
  --log-file="$w/log/munged.log" --seed-file="$w/munge/seed"
export MUNGE_SOCKET="$w/munge/sock"
cat > "$w/slurm.conf" <<CONF
ClusterName=painface
SlurmctldHost=$host
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$w/munge/sock
CredType=cred/munge
StateSaveLocation=$w/state
SlurmdSpoolDir=$w/spool
SlurmctldPidFile=$w/slurmctld.pid
SlurmdPidFile=$w/slurmd.pid
SlurmctldLogFile=$w/log/slurmctld.log
SlurmdLogFile=$w/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
SlurmdTimeout=30
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$w/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for i in $(seq 60); do sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed" && break; sleep 1; done
sinfo -h -o "%N %T" | grep -qE "idle|mixed" || { echo "slurm: the node did not come up" >&2; tail -20 "$w/log/"*.log >&2; exit 1; }

manifest=samples/frames/manifest.csv
proto=(--segment-length 20 --sources mtcnn)
# the reference: one machine, no shards
"$pf" extract "$manifest" "${proto[@]}" --cache "$w/single" --threads 1 >/dev/null 2>&1
# the README's job array (3 tasks sharing one cache folder)
cat > "$w/job.sh" <<JOB
#!/bin/bash
#SBATCH --job-name=painface-extract
#SBATCH --cpus-per-task=1
#SBATCH --output=$w/out/%A_%a.log
# N is written out, not \$SLURM_ARRAY_TASK_COUNT: a task resubmitted alone (--array=1) has a count of 1
exec "$pf" extract "$(realpath $manifest)" ${proto[*]} --cache "$w/shared" --threads "\$SLURM_CPUS_PER_TASK" \\
    --shard "\$SLURM_ARRAY_TASK_ID/3"
JOB
chmod +x "$w/job.sh"
job=$(sbatch --parsable --array=0-2 "$w/job.sh")
# task 1 is killed once it has begun extracting (its first progress line), mid-video
for i in $(seq 600); do grep -qE "[1-9][0-9]*/[0-9]+ frames" "$w/out/${job}_1.log" 2>/dev/null && break; sleep 0.1; done
scancel --signal=KILL "${job}_1"
progress=$(grep -oE "[0-9]+/[0-9]+ frames" "$w/out/${job}_1.log" 2>/dev/null | tail -1 || true)
for i in $(seq 120); do [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break; sleep 1; done
killed=$(sacct -n -j "${job}_1" -o State 2>/dev/null | head -1 | tr -d ' ' || true)
# resubmitted, as a preempted task would be
job2=$(sbatch --parsable --array=1 "$w/job.sh")
for i in $(seq 120); do [ -z "$(squeue -h -j "$job2" 2>/dev/null)" ] && break; sleep 1; done
# the shards' union must equal the single-machine cache, file for file, byte for byte
diff <(cd "$w/single" && ls *.safetensors) <(cd "$w/shared" && ls *.safetensors) \
  || { echo "slurm: the shards' files differ from a single run" >&2; cat "$w/out/"*.log >&2; exit 1; }
for f in "$w/single"/*.safetensors; do
  cmp -s "$f" "$w/shared/$(basename "$f")" || { echo "slurm: $(basename "$f") differs" >&2; exit 1; }
done
n=$(ls "$w/single"/*.safetensors | wc -l)
echo "slurm: array ${job} (3 tasks; task 1 killed while extracting${progress:+, at $progress}${killed:+, $killed}; resubmitted as ${job2}): $n cache files equal a single-machine run byte for byte"

#!/usr/bin/env bash
# Installs Slurm and munge from Debian, writes a single-node cluster for this
# machine (all its CPUs and memory, one partition "debug"), and starts munged,
# slurmctld and slurmd. Idempotent: a second call finds the daemons up and
# only waits for the node to be idle. make test runs the cluster tests when
# `sinfo` answers; .ci/run calls this script first.
set -euo pipefail

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq slurm-wlm munge >/dev/null
fi

node=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
state=/var/spool/slurm
mkdir -p /etc/slurm "$state/ctld" "$state/d" /var/log/slurm /run/munge /var/lib/munge /var/log/munge

if [ ! -s /etc/munge/munge.key ]; then
	dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge

conf=/etc/slurm/slurm.conf
want=$(cat <<CONF
# written by tdro scripts/slurm/up.sh: one node, this machine
ClusterName=tdro
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=30
# a requeued job may start again after cred_expire seconds (default 120)
AuthInfo=cred_expire=10
MinJobAge=3600
NodeName=$node CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
)
restart=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
	printf '%s\n' "$want" >"$conf"
	restart=1
fi

if ! pgrep -x munged >/dev/null; then
	if id munge >/dev/null 2>&1; then
		runuser -u munge -- /usr/sbin/munged
	else
		/usr/sbin/munged --force
	fi
fi
if [ "$restart" = 1 ]; then
	pkill -x slurmctld 2>/dev/null || true
	pkill -x slurmd 2>/dev/null || true
	for _ in $(seq 1 30); do # wait until they have saved their state and exited
		pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break
		sleep 1
	done
fi
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd

for _ in $(seq 1 60); do
	if sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
		scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
		sinfo
		exit 0
	fi
	sleep 1
done
echo "slurm did not come up; see /var/log/slurm/" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1

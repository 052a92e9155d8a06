#!/bin/sh
# Slurm hook for jobledger: one script for PrologSlurmctld and EpilogSlurmctld (recommended:
# one event per job, from the controller) or for Prolog and Epilog on the nodes (only the
# first node of each allocation publishes). SLURM_SCRIPT_CONTEXT tells start from stop.
#
# It never fails the hook: `jobledger emit` is bounded by its deadline (2 s by default),
# spools the event when NATS does not acknowledge in time, and exits 0. The outer timeout
# is a last guard only. Install as /etc/slurm/jobledger-hook.sh, mode 0755.
JOBLEDGER_CONFIG=${JOBLEDGER_CONFIG:-/etc/jobledger/jobledger.toml}
export JOBLEDGER_CONFIG
timeout 10 /usr/local/bin/jobledger emit --from-slurm 2>>/var/log/jobledger-emit.log
exit 0

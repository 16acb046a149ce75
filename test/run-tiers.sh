#!/usr/bin/env bash
# `npm test`: every tier, in one command. The unit and e2e tiers run in the foreground. Beside them, in a
# process of their own: the e2e-watch files (minutes of nearly idle watching, see vitest.config.ts), then the
# k8s tier at a lower CPU priority (its kube-apiserver and etcd inherit it), so neither slows the e2e tier's
# media tests. Their output is printed when the e2e tier is done. The cluster tier runs last, alone: it builds
# an image and starts a node. The exit code is non-zero if any tier failed.
set -u
cd "$(dirname "$0")/.."
side_log=$(mktemp)
trap 'rm -f "$side_log"' EXIT
(
  w=0; k=0
  vitest run --project e2e-watch || w=$?
  nice -n 10 vitest run --project k8s || k=$?
  exit $((w | k))
) >"$side_log" 2>&1 &
side=$!
a=0; b=0; c=0
vitest run --project unit --project e2e || a=$?
wait "$side" || b=$?
echo "---- e2e-watch and k8s tiers (ran beside the e2e tier) ----"
cat "$side_log"
vitest run --project cluster || c=$?
exit $((a | b | c))

#!/usr/bin/env bash
# The cluster tier's NetworkPolicy enforcer: kube-router's network-policy controller alone
# (--run-firewall, no routing, no service proxy), built from its Go module, pinned below, into
# ${SHIFU_RTSP_CACHE:-$HOME/.cache/shifu-rtsp}/kube-router/<version>/kube-router, whose folder is printed as the
# LAST line of stdout. The CNI bridge enforces no NetworkPolicy, so without it the policies would go untested.
# Test infrastructure for a throw-away node only: never shipped (security flaws are reported for this version).
set -euo pipefail

version=v2.1.0
log() { printf '[kube-router] %s\n' "$*" >&2; }
die() { printf '[kube-router] ERROR: %s\n' "$*" >&2; exit 1; }
# shellcheck source=../../support/cached-go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../support/cached-go-build.sh"

go_install_cached kube-router "$version" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router kube-router --version

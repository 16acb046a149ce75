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

cache_root="${SHIFU_RTSP_CACHE:-${HOME:?HOME is not set}/.cache/shifu-rtsp}"
dest="$cache_root/kube-router/$version"
if [[ -x "$dest/kube-router" ]]; then printf '%s\n' "$dest"; exit 0; fi

go_cmd="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$go_cmd" ]] || die "no Go toolchain (put go on PATH or set GO): it builds kube-router"
mkdir -p "$cache_root/kube-router"
exec 9>"$cache_root/kube-router/.lock"
flock 9
if [[ -x "$dest/kube-router" ]]; then printf '%s\n' "$dest"; exit 0; fi

tmp="$(mktemp -d "$cache_root/kube-router/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
log "building github.com/cloudnativelabs/kube-router/v2 $version (one-off; cached in $dest)"
(cd "$tmp" && CGO_ENABLED=0 GOBIN="$tmp/bin" GOFLAGS="-trimpath -buildvcs=false" \
  "$go_cmd" install -ldflags='-s -w' "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$version" >&2) \
  || die "building kube-router failed (is the Go module proxy reachable?)"
"$tmp/bin/kube-router" --version >&2 || die "the built kube-router does not run"
chmod 755 "$tmp/bin"
rm -rf "$dest"
mv "$tmp/bin" "$dest"
log "built in $((SECONDS - start)) s"
printf '%s\n' "$dest"

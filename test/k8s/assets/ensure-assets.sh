#!/usr/bin/env bash
# Make sure a kube-apiserver and an etcd binary are available for the test/k8s tier and print
# the directory that holds them as the LAST line of stdout (everything else goes to stderr).
#
#   1. $KUBEBUILDER_ASSETS, if set and it holds executable kube-apiserver and etcd: used as is.
#   2. Otherwise both are built from source with the Go toolchain, from the module beside this
#      script (k8s.io/kubernetes/cmd/kube-apiserver and go.etcd.io/etcd/server/v3), into
#      ${SHIFU_RTSP_CACHE:-$HOME/.cache/shifu-rtsp}/k8s-assets/<k8s version>-<etcd version>/
#      (outside the repository). A later run finds them there and returns at once.
#
# Environment: KUBEBUILDER_ASSETS, SHIFU_RTSP_CACHE, GO (path to the go command), and the usual
# GOCACHE / GOMODCACHE / GOPROXY. Idempotent and safe to run concurrently (flock).
set -euo pipefail

log() { printf '[ensure-assets] %s\n' "$*" >&2; }
die() { printf '[ensure-assets] ERROR: %s\n' "$*" >&2; exit 1; }

has_assets() {
  [[ -n "$1" && -x "$1/kube-apiserver" && -x "$1/etcd" && -f "$1/kube-apiserver" && -f "$1/etcd" ]]
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_assets "$KUBEBUILDER_ASSETS"; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    printf '%s\n' "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks kube-apiserver and/or etcd; building our own"
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gomod="$here/go.mod"
[[ -f "$gomod" ]] || die "missing $gomod"

# Versions come straight from go.mod (no go invocation, so the warm path stays instant).
mod_version() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$gomod"; }
k8s_version="$(mod_version k8s.io/kubernetes)"
etcd_version="$(mod_version go.etcd.io/etcd/server/v3)"
[[ -n "$k8s_version" && -n "$etcd_version" ]] || die "cannot read the k8s.io/kubernetes / etcd versions from $gomod"

# shellcheck source=../../support/cached-go-build.sh
source "$here/../../support/cached-go-build.sh"
dest="$cache_root/k8s-assets/$k8s_version-$etcd_version"

if has_assets "$dest"; then
  log "cached: $dest"
  printf '%s\n' "$dest"
  exit 0
fi

# ---- cold path: build -------------------------------------------------------------------------
find_go "kube-apiserver and etcd"
go_version="$("$go_cmd" env GOVERSION)" || die "$go_cmd does not run"

log "waiting for the build lock $cache_root/k8s-assets/.lock"
take_build_lock k8s-assets
if has_assets "$dest"; then   # another run built them while we waited
  log "cached: $dest"
  printf '%s\n' "$dest"
  exit 0
fi

tmp="$(mktemp -d "$cache_root/k8s-assets/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# k8s major/minor for the version stamp that /version reports (as the official build sets it).
ver="${k8s_version#v}"
k8s_major="${ver%%.*}"
rest="${ver#*.}"
k8s_minor="${rest%%.*}"
build_date="$(date -u +'%Y-%m-%dT%H:%M:%SZ')"
vpkg=k8s.io/component-base/version
k8s_ldflags="-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=$k8s_major -X $vpkg.gitMinor=$k8s_minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=$build_date"

export CGO_ENABLED=0
# go.mod says `go 1.26.0`: an older go switches to that toolchain through the module proxy
# (GOTOOLCHAIN=auto, go's default) or stops with a clear message under GOTOOLCHAIN=local.
export GOFLAGS="-trimpath -mod=readonly -buildvcs=false"

log "building kube-apiserver $k8s_version and etcd $etcd_version with $go_version ($(nproc 2>/dev/null || echo '?') cores)"
log "this is a one-off cold build (module download + compile); later runs reuse $dest"

start=$SECONDS
(cd "$here" && "$go_cmd" mod download >&2) || die "go mod download failed (is the Go module proxy reachable?)"
log "modules ready after $((SECONDS - start))s"

t0=$SECONDS
(cd "$here" && "$go_cmd" build -ldflags="-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3) >&2 \
  || die "building etcd failed"
log "etcd built in $((SECONDS - t0))s"

t0=$SECONDS
(cd "$here" && "$go_cmd" build -ldflags="$k8s_ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) >&2 \
  || die "building kube-apiserver failed"
log "kube-apiserver built in $((SECONDS - t0))s"

"$tmp/etcd" --version >&2 || die "the built etcd does not run"
"$tmp/kube-apiserver" --version >&2 || die "the built kube-apiserver does not run"

# Publish atomically: a half-built directory is never seen as the cache.
chmod 755 "$tmp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
log "assets ready in $dest after $((SECONDS - start))s total"
printf '%s\n' "$dest"

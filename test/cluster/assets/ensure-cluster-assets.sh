#!/usr/bin/env bash
# Make sure the cluster tier's binaries exist and print the directory that holds them as the LAST line
# of stdout (progress goes to stderr):
#   kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl  (kubernetes/go.mod, one version)
#   coredns                                                                 (coredns/go.mod, our plugin subset)
#   pause                                                                   (the module's build/pause/linux/pause.c)
# kube-apiserver and etcd come from the k8s tier (test/k8s/assets/ensure-assets.sh) and are linked in.
# Built once into ${SHIFU_RTSP_CACHE:-$HOME/.cache/shifu-rtsp}/cluster-assets/<hash of the inputs>/ and
# reused while the inputs (go.mod, go.sum, sources, Go version) stay the same. Safe to run concurrently (flock).
set -euo pipefail

log() { printf '[cluster-assets] %s\n' "$*" >&2; }
die() { printf '[cluster-assets] ERROR: %s\n' "$*" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
go_cmd="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$go_cmd" ]] || die "no Go toolchain (put go on PATH or set GO): it builds the kubelet and the other cluster binaries"
go_version="$("$go_cmd" env GOVERSION)" || die "$go_cmd does not run"

k8s_assets="$(bash "$here/../../k8s/assets/ensure-assets.sh" | tail -n 1)" || die "the k8s tier's kube-apiserver/etcd build failed"

key="$( { echo "$go_version"; cat "$here/kubernetes/go.mod" "$here/kubernetes/go.sum" "$here/kubernetes/tools.go" \
  "$here/coredns/go.mod" "$here/coredns/go.sum" "$here/coredns/main.go" "$0"; } | sha256sum | cut -c1-16)"
cache_root="${SHIFU_RTSP_CACHE:-${HOME:?HOME is not set}/.cache/shifu-rtsp}"
dest="$cache_root/cluster-assets/$key"
bins=(kubelet kube-controller-manager kube-scheduler kube-proxy kubectl coredns pause)

complete() { for b in "${bins[@]}" kube-apiserver etcd; do [[ -x "$1/$b" ]] || return 1; done; }
finish() { log "ready: $dest"; printf '%s\n' "$dest"; exit 0; }
complete "$dest" && finish

mkdir -p "$cache_root/cluster-assets"
exec 9>"$cache_root/cluster-assets/.lock"
flock 9
complete "$dest" && finish

tmp="$(mktemp -d "$cache_root/cluster-assets/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=readonly -buildvcs=false"

mod_version() { awk -v m="$1" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$2"; }
k8s_version="$(mod_version k8s.io/kubernetes "$here/kubernetes/go.mod")"
ver="${k8s_version#v}"; k8s_major="${ver%%.*}"; rest="${ver#*.}"; k8s_minor="${rest%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X $vpkg.gitVersion=$k8s_version -X $vpkg.gitMajor=$k8s_major -X $vpkg.gitMinor=$k8s_minor -X $vpkg.gitTreeState=clean -X $vpkg.buildDate=1970-01-01T00:00:00Z"

start=$SECONDS
log "building kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl $k8s_version with $go_version (one-off; cached in $dest)"
(cd "$here/kubernetes" && "$go_cmd" mod download >&2 \
  && "$go_cmd" build -ldflags="$ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl >&2) \
  || die "building the Kubernetes binaries failed"
log "Kubernetes binaries built after $((SECONDS - start)) s"

t0=$SECONDS
(cd "$here/coredns" && "$go_cmd" mod download >&2 && "$go_cmd" build -ldflags="-s -w" -o "$tmp/coredns" . >&2) \
  || die "building coredns failed"
log "coredns built in $((SECONDS - t0)) s"

# The pod sandbox: Kubernetes' own pause.c, static, so its image needs nothing but the binary.
pause_c="$(cd "$here/kubernetes" && "$go_cmd" list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
[[ -f "$pause_c" ]] || die "no $pause_c in the module"
cc="${CC:-$(command -v cc || command -v gcc || true)}"
[[ -n "$cc" ]] || die "no C compiler (apt-get install gcc libc6-dev) to build the pause binary"
"$cc" -Os -static -DVERSION="$k8s_version" -o "$tmp/pause" "$pause_c" || die "compiling pause.c failed"
strip "$tmp/pause" 2>/dev/null || true

ln -s "$k8s_assets/kube-apiserver" "$tmp/kube-apiserver"
ln -s "$k8s_assets/etcd" "$tmp/etcd"
"$tmp/kubelet" --version >&2 && "$tmp/coredns" -version >&2 || die "a built binary does not run"

chmod 755 "$tmp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
log "built in $((SECONDS - start)) s"
finish

#!/usr/bin/env bash
# Knative Serving's own CRDs for the k8s and cluster tiers, unchanged, from the Go module proxy: the module
# knative.dev/serving (pinned below) ships them in config/core/300-resources/. They are copied once into
# ${SHIFU_RTSP_CACHE:-~/.cache/shifu-rtsp}/crds/knative-serving-<version>/ and that folder is printed as the
# LAST line of stdout (everything else goes to stderr). A later run finds it there and returns at once.
# (Knative Eventing and Shifu are not served by the proxy: their CRDs are written beside this script.)
#
# Environment: SHIFU_RTSP_CACHE, GO (path to the go command), and the usual GOMODCACHE / GOPROXY.
set -euo pipefail

version=v0.51.0

log() { printf '[ensure-serving-crds] %s\n' "$*" >&2; }
die() { printf '[ensure-serving-crds] ERROR: %s\n' "$*" >&2; exit 1; }

cache_root="${SHIFU_RTSP_CACHE:-${HOME:?HOME is not set}/.cache/shifu-rtsp}"
dest="$cache_root/crds/knative-serving-$version"
if [[ -f "$dest/.complete" ]]; then
  log "cached: $dest"
  printf '%s\n' "$dest"
  exit 0
fi

go_cmd="${GO:-}"
if [[ -z "$go_cmd" ]]; then
  if command -v go >/dev/null 2>&1; then go_cmd="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then go_cmd=/usr/local/go/bin/go
  else die "no Go toolchain found (put go on PATH or set GO=/path/to/go); it fetches knative.dev/serving@$version"
  fi
fi

mkdir -p "$cache_root/crds"
tmp="$(mktemp -d "$cache_root/crds/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# Outside any module, so the project's own go.mod files play no part; -json prints the module's folder.
json="$(cd "$tmp" && GOFLAGS=-mod=mod "$go_cmd" mod download -json "knative.dev/serving@$version")" \
  || die "go mod download knative.dev/serving@$version failed (is the Go module proxy reachable?)"
dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -n "$dir" && -d "$dir/config/core/300-resources" ]] || die "knative.dev/serving@$version has no config/core/300-resources ($json)"

mkdir "$tmp/out"
cp "$dir"/config/core/300-resources/*.yaml "$tmp/out/"
count=$(ls "$tmp/out" | wc -l)
[[ "$count" -gt 0 ]] || die "no CRD files in $dir/config/core/300-resources"
touch "$tmp/out/.complete"
chmod -R u+w,go+rX "$tmp/out"
rm -rf "$dest"
mv "$tmp/out" "$dest"
log "$count Knative Serving $version CRD files in $dest"
printf '%s\n' "$dest"

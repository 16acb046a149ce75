#!/usr/bin/env bash
# Build the cluster tier's images with buildah and import them into containerd's k8s.io namespace, so pods
# run them without any pull (no registry is reachable here):
#   node:24-bookworm-slim  the Dockerfile's base, assembled here: debootstrap bookworm (minbase), Node from
#                          the npm registry's `node` package (the project's devDependency), npm, user `node` 1000
#   shifu-rtsp             the project's own Dockerfile, unchanged, built from the working tree
#   pause, coredns         one static binary each (from ensure-cluster-assets.sh)
#   versitygw              the archive scenario's S3 server, one static binary (test/s3/ensure-versitygw.sh)
# Usage: ensure-images.sh PROJECT_DIR ASSETS_DIR CONTAINERD_SOCKET
#        ensure-images.sh --build-only PROJECT_DIR   (CI, beside the other tiers: the base and the project's image
#                                                    into the cache, nothing imported; the cluster tier then finds them)
# Prints PAUSE_IMAGE=, COREDNS_IMAGE=, VERSITYGW_IMAGE=, IMAGE= as its last lines. Everything is cached by its inputs in
# ${SHIFU_RTSP_CACHE:-$HOME/.cache/shifu-rtsp}/images (buildah storage and image archives).
set -euo pipefail

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

build_only=false
if [[ "${1:-}" == --build-only ]]; then build_only=true; shift; fi
project="$(cd "${1:?project dir}" && pwd)"
if ! $build_only; then
  assets="${2:?assets dir}"
  socket="${3:?containerd socket}"
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${SHIFU_RTSP_CACHE:-${HOME:?}/.cache/shifu-rtsp}/images"
mkdir -p "$cache/archives"
exec 9>"$cache/.lock"
flock 9

for tool in buildah debootstrap $($build_only || echo ctr); do command -v "$tool" >/dev/null || die "$tool is missing (apt-get install buildah debootstrap containerd)"; done
bah() { buildah --root "$cache/storage" --runroot /run/shifu-rtsp-buildah --storage-driver overlay "$@"; }
has_image() { bah inspect --type image "$1" >/dev/null 2>&1; }
sha() { sha256sum | cut -c1-16; }

# ---- base: node:24-bookworm-slim (its own script, so its cache key changes only with it) ------------------
base_out="$(BAH_ROOT="$cache" bash "$here/base-image.sh" "$project")" || die "assembling the base image failed"
base="$(tail -n 1 <<<"$base_out")"
base_key="${base##*:}"
# The Dockerfile's FROM, resolved locally (buildah bud --pull=never).
bah tag "$base" docker.io/library/node:24-bookworm-slim

# ---- the project's image, from its Dockerfile, unchanged ---------------------------------------------------
# Inputs: what .dockerignore lets into the context (package files, tsconfig, functions/) and the Dockerfile.
app_key="$( { echo "$base_key"; cd "$project"; cat Dockerfile .dockerignore package.json package-lock.json tsconfig.json;
  find functions -type f | LC_ALL=C sort | xargs sha256sum; } | sha)"
image="localhost/shifu-rtsp:$app_key"
if [[ ! -s "$cache/archives/shifu-rtsp-$app_key.tar" ]]; then
  log "building $image from $project/Dockerfile"
  # Where the registry is reached through a TLS-inspecting proxy, the host's CA bundle is lent to the build's
  # RUN steps (npm reads a global npmrc); nothing of it is left in the image.
  build_mounts=()
  host_ca="${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}"
  if [[ -n "$host_ca" && "$host_ca" != null && -s "$host_ca" ]]; then
    printf 'cafile=/etc/ssl/certs/shifu-rtsp-build-ca.crt\n' > "$cache/build-npmrc"
    build_mounts=(--volume "$host_ca:/etc/ssl/certs/shifu-rtsp-build-ca.crt:ro" --volume "$cache/build-npmrc:/usr/local/etc/npmrc:ro")
  fi
  has_image "$image" || bah bud --isolation chroot --pull=never --layers=false "${build_mounts[@]}" -t "$image" -f "$project/Dockerfile" "$project" >&2 \
    || die "buildah bud of the Dockerfile failed"
  rm -f "$cache/archives/shifu-rtsp-$app_key.tar.tmp"
  bah push --quiet "$image" "docker-archive:$cache/archives/shifu-rtsp-$app_key.tar.tmp:$image" >&2
  mv "$cache/archives/shifu-rtsp-$app_key.tar.tmp" "$cache/archives/shifu-rtsp-$app_key.tar"
  # Keep one old archive at most: they are ~250 MB each.
  ls -t "$cache"/archives/shifu-rtsp-*.tar | tail -n +3 | xargs -r rm -f
fi

if $build_only; then echo "IMAGE=$image"; exit 0; fi

# ---- pause and coredns: a static binary each ---------------------------------------------------------------
single_binary_image() { # name binary-path entrypoint-args...
  local name="$1" path="$2"; shift 2
  local bin; bin="$(basename "$path")"
  local key; key="$(sha256sum "$path" | cut -c1-16)"
  local ref="localhost/shifu-rtsp-cluster/$name:$key"
  if [[ ! -s "$cache/archives/$name-$key.tar" ]]; then
    local c; c="$(bah from scratch)"
    bah copy --chmod 0755 "$c" "$path" "/$bin" >/dev/null
    local entry; entry="$(printf '"%s",' "/$bin" "$@")"
    bah config --entrypoint "[${entry%,}]" --user 65535:65535 --os linux --arch amd64 "$c"
    bah commit --quiet --rm "$c" "$ref" >/dev/null
    bah push --quiet "$ref" "docker-archive:$cache/archives/$name-$key.tar:$ref" >&2
  fi
  printf '%s' "$ref"
}
pause_image="$(single_binary_image pause "$assets/pause")"
coredns_image="$(single_binary_image coredns "$assets/coredns")"
# The S3 server the recorder archives to in the archive scenario (a pod, as a user's MinIO or Ceph RGW would be).
versitygw_dir="$(bash "$project/test/s3/ensure-versitygw.sh" | tail -n 1)" || die "building versitygw failed"
versitygw_image="$(single_binary_image versitygw "$versitygw_dir/versitygw")"

# ---- import into containerd's k8s.io namespace -------------------------------------------------------------
import() { # ref archive
  if ! ctr --address "$socket" -n k8s.io images ls -q | grep -qxF "$1"; then
    log "importing $1 into containerd"
    ctr --address "$socket" -n k8s.io images import "$2" >&2 || die "ctr import of $2 failed"
  fi
  ctr --address "$socket" -n k8s.io images label "$1" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
}
import "$image" "$cache/archives/shifu-rtsp-$app_key.tar"
import "$pause_image" "$cache/archives/pause-${pause_image##*:}.tar"
import "$coredns_image" "$cache/archives/coredns-${coredns_image##*:}.tar"
import "$versitygw_image" "$cache/archives/versitygw-${versitygw_image##*:}.tar"

echo "PAUSE_IMAGE=$pause_image"
echo "COREDNS_IMAGE=$coredns_image"
echo "VERSITYGW_IMAGE=$versitygw_image"
echo "IMAGE=$image"

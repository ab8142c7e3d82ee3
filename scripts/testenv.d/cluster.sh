# shellcheck shell=bash
# The Kubernetes control plane: kwokctl's binary runtime with our own builds of every component,
# plus the objects a cluster needs before todoplan's tests can use it. Sourced by scripts/testenv.

NODE_NAME=todoplan-node
PV_SMALL_COUNT=20 # 10Gi each: what most claims ask for
PV_LARGE_COUNT=4  # 100Gi each: for claims above 10Gi

kwok_workdir() { echo "$RUN_DIR/kwok"; }
kwokctl_cmd() { KWOK_WORKDIR="$(kwok_workdir)" "$(kwok_dir)/kwokctl" --name "$KWOK_CLUSTER_NAME" "$@"; }
kubectl_cmd() { "$(kubernetes_dir)/kubectl" --kubeconfig "$RUN_DIR/kubeconfig" --context "$KUBE_CONTEXT" "$@"; }

apiserver_ready() { kubectl_cmd get --raw /readyz --request-timeout=3s; }

STAGE_CRD=stages.kwok.x-k8s.io

write_kwok_config() {
    cat >"$RUN_DIR/kwok-config.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  kubeVersion: $KUBERNETES_VERSION
  # No client-side rate limits in the controllers: rollouts in tests are never throttled.
  disableQPSLimits: true
  # Loopback only: etcd here serves plain HTTP without authentication.
  bindAddress: 127.0.0.1
  # Stages are API objects (see apply_stages), so a changed stages.yaml reaches a running
  # cluster with the next up, without restarting anything.
  enableCRDs: [Stage]
componentsPatches:
# kwok manages only its fake node (annotation kwok.x-k8s.io/node=fake); the real node's kubelet
# manages itself (kwokctl's default would have kwok take over every node).
- name: kwok-controller
  extraArgs:
  - key: manage-all-nodes
    value: "false"
  - key: manage-nodes-with-annotation-selector
    value: kwok.x-k8s.io/node=fake
# Reach kubelets by their InternalIP, not by resolving the node name through the machine's DNS.
- name: kube-apiserver
  extraArgs:
  - key: kubelet-preferred-address-types
    value: InternalIP
- name: etcd
  extraArgs:
  # A throwaway test database; fsync on every write only slows the tests down.
  - key: unsafe-no-fsync
    value: "true"
EOF
}

# Applies scripts/testenv.d/stages.yaml when it differs from what this cluster last got.
apply_stages() {
    local applied current
    applied="$(kwok_workdir)/clusters/$KWOK_CLUSTER_NAME/stages.sha256"
    current=$(sha256sum <"$TESTENV_LIB/stages.yaml" | cut -d' ' -f1)
    [[ -f "$applied" && "$(cat "$applied")" == "$current" ]] && return 0
    wait_until 60 kubectl_cmd get crd "$STAGE_CRD" ||
        die "kwokctl did not install the $STAGE_CRD CRD; see $RUN_DIR/logs/kwokctl.log"
    kubectl_cmd wait --for=condition=Established "crd/$STAGE_CRD" --timeout=60s >/dev/null ||
        die "the $STAGE_CRD CRD never became Established"
    kubectl_cmd apply --server-side --field-manager=todoplan-testenv --force-conflicts \
        -f "$TESTENV_LIB/stages.yaml" >>"$RUN_DIR/logs/bootstrap.log" 2>&1 ||
        die "applying scripts/testenv.d/stages.yaml failed; see $RUN_DIR/logs/bootstrap.log"
    # Stages that left stages.yaml must leave the cluster too.
    local name
    for name in $(kubectl_cmd get "$STAGE_CRD" -o name); do
        grep -qx "  name: ${name#*/}" "$TESTENV_LIB/stages.yaml" ||
            kubectl_cmd delete "$name" >>"$RUN_DIR/logs/bootstrap.log" 2>&1
    done
    echo "$current" >"$applied"
}

create_cluster() {
    write_kwok_config
    local kube etcd kwok
    kube=$(kubernetes_dir)
    etcd=$(etcd_dir)
    kwok=$(kwok_dir)
    log "creating the Kubernetes $KUBERNETES_VERSION control plane (kwokctl cluster $KWOK_CLUSTER_NAME)"
    # kwokctl looks kubectl up on PATH; ours comes first.
    PATH="$RUN_DIR/bin:$PATH" kwokctl_cmd create cluster \
        --config "$RUN_DIR/kwok-config.yaml" \
        --kubeconfig "$RUN_DIR/kubeconfig" \
        --runtime binary \
        --kube-apiserver-binary "$kube/kube-apiserver" \
        --kube-controller-manager-binary "$kube/kube-controller-manager" \
        --kube-scheduler-binary "$kube/kube-scheduler" \
        --kwok-controller-binary "$kwok/kwok" \
        --etcd-binary "$etcd/etcd" \
        --wait 3m >>"$RUN_DIR/logs/kwokctl.log" 2>&1 ||
        die "kwokctl create cluster failed; see $RUN_DIR/logs/kwokctl.log and $(kwok_workdir)/clusters/$KWOK_CLUSTER_NAME/logs/"
}

start_cluster() {
    if apiserver_ready >/dev/null 2>&1 && ! kubectl_cmd get crd "$STAGE_CRD" >/dev/null 2>&1; then
        # Made by an earlier version of this script, which passed stages in kwokctl's config.
        log "recreating a cluster made without the Stage CRD"
        stop_cluster
    fi
    local saved_config
    saved_config="$(kwok_workdir)/clusters/$KWOK_CLUSTER_NAME/kwok.yaml"
    if [[ -f "$saved_config" ]] && ! grep -q manage-nodes-with-annotation-selector "$saved_config"; then
        # Made by an earlier version of this script, whose kwok would take over the real node.
        log "recreating a cluster made before the real node (kwok managed every node)"
        stop_cluster
    fi
    if ! apiserver_ready >/dev/null 2>&1; then
        if [[ -d "$(kwok_workdir)/clusters/$KWOK_CLUSTER_NAME" ]]; then
            log "restarting the stopped control plane"
            if ! PATH="$RUN_DIR/bin:$PATH" kwokctl_cmd start cluster --wait 3m >>"$RUN_DIR/logs/kwokctl.log" 2>&1 ||
                ! wait_until 60 apiserver_ready; then
                log "restart failed; creating the cluster again"
                kwokctl_cmd delete cluster >>"$RUN_DIR/logs/kwokctl.log" 2>&1 || true
                create_cluster
            fi
        else
            create_cluster
        fi
        wait_until 120 apiserver_ready ||
            die "the API server did not become ready; see $(kwok_workdir)/clusters/$KWOK_CLUSTER_NAME/logs/"
    fi
    apply_stages
    bootstrap_cluster
}

# Objects a fresh cluster lacks that a real one (kind, minikube) has: a node, a default
# StorageClass with volumes to bind, an IngressClass. `kubectl apply` keeps this idempotent.
bootstrap_cluster() {
    # One GET for all of them keeps a repeated `up` fast; apply only when something is missing.
    local names
    mapfile -t names < <(cluster_object_names)
    if ! kubectl_cmd get "${names[@]}" >/dev/null 2>&1; then
        cluster_objects |
            kubectl_cmd apply --server-side --field-manager=todoplan-testenv --force-conflicts -f - \
                >>"$RUN_DIR/logs/bootstrap.log" 2>&1 ||
            die "applying the cluster's base objects failed; see $RUN_DIR/logs/bootstrap.log"
    fi
    kubectl_cmd wait --for=condition=Ready "node/$NODE_NAME" --timeout=60s >/dev/null ||
        die "node $NODE_NAME did not become Ready; see $(kwok_workdir)/clusters/$KWOK_CLUSTER_NAME/logs/kwok-controller.log"
    # Pods cannot be created in a namespace before its default ServiceAccount exists.
    wait_until 60 kubectl_cmd -n default get serviceaccount default ||
        die "the default ServiceAccount never appeared (is kube-controller-manager running?)"
}

pv_name() { printf 'testenv-pv-%02d' "$1"; }

cluster_object_names() {
    echo "node/$NODE_NAME storageclass/standard ingressclass/nginx"
    local i
    for ((i = 0; i < PV_SMALL_COUNT + PV_LARGE_COUNT; i++)); do
        echo "persistentvolume/$(pv_name "$i")"
    done
}

cluster_objects() {
    cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
spec: {}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
# Immediate so a claim binds on its own, before any pod uses it (as with a dynamic provisioner).
volumeBindingMode: Immediate
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: nginx
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: k8s.io/ingress-nginx
EOF
    local i
    for ((i = 0; i < PV_SMALL_COUNT + PV_LARGE_COUNT; i++)); do
        local size=10Gi
        ((i >= PV_SMALL_COUNT)) && size=100Gi
        cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $(pv_name "$i")
  labels:
    todoplan.dev/testenv: preprovisioned
spec:
  capacity:
    storage: $size
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  hostPath:
    path: $(printf '/tmp/todoplan-testenv-pv/pv-%02d' "$i")
EOF
    done
}

stop_cluster() {
    local cluster_dir
    cluster_dir="$(kwok_workdir)/clusters/$KWOK_CLUSTER_NAME"
    [[ -d "$cluster_dir" ]] || return 0
    # Read the pids first: `kwokctl delete cluster` removes the directory that holds them.
    local file pid pids=()
    while IFS= read -r file; do
        pid=$(cat "$file" 2>/dev/null) || continue
        [[ "$pid" =~ ^[0-9]+$ ]] && pids+=("$pid:$(basename "$file" .pid)")
    done < <(find "$cluster_dir" -name '*.pid' -type f 2>/dev/null)
    if [[ -x "$(kwok_dir)/kwokctl" ]]; then
        kwokctl_cmd delete cluster --kubeconfig "$RUN_DIR/kubeconfig" >>"$RUN_DIR/logs/kwokctl.log" 2>&1 ||
            log "kwokctl delete cluster failed; stopping its processes by pid file"
    fi
    # Whatever kwokctl left running (or all of it, without kwokctl). Each of these processes was
    # started with paths inside the run dir, which guards against a recycled pid.
    local entry
    for entry in "${pids[@]}"; do
        pid=${entry%%:*}
        if kill -0 "$pid" 2>/dev/null &&
            tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$RUN_DIR/"; then
            stop_pid "$pid" "${entry#*:}" 10
        fi
    done
}

status_cluster() {
    if apiserver_ready >/dev/null 2>&1; then
        local server
        server=$(kubectl_cmd config view --minify -o jsonpath='{.clusters[0].cluster.server}')
        echo "kubernetes: running (context $KUBE_CONTEXT, $server)"
        local file pid
        while IFS= read -r file; do
            pid=$(cat "$file" 2>/dev/null) || continue
            if kill -0 "$pid" 2>/dev/null; then
                echo "  $(basename "$file" .pid): pid $pid"
            else
                echo "  $(basename "$file" .pid): not running"
            fi
        done < <(find "$(kwok_workdir)" -name '*.pid' -type f 2>/dev/null | sort)
        kubectl_cmd get nodes --no-headers 2>/dev/null | sed 's/^/  node: /'
    else
        echo "kubernetes: not running"
        return 1
    fi
}

# Supervision of the control plane (see scripts/testenv.d/control-plane-watchdog).
start_control_plane_watchdog() {
    pid_alive "$RUN_DIR/pids/control-plane-watchdog.pid" control-plane-watchdog && return 0
    mkdir -p "$RUN_DIR/supervise"
    # "$RUN_DIR/" with the slash: the down checks find our processes by that string.
    start_daemon control-plane-watchdog "$TESTENV_LIB/control-plane-watchdog" \
        "$RUN_DIR/" "$(kwok_dir)/kwokctl" "$KWOK_CLUSTER_NAME"
}

stop_control_plane_watchdog() {
    local pidfile="$RUN_DIR/pids/control-plane-watchdog.pid"
    if pid_alive "$pidfile" control-plane-watchdog; then
        stop_pid "$(cat "$pidfile")" control-plane-watchdog 5
    fi
}

status_control_plane_watchdog() {
    if pid_alive "$RUN_DIR/pids/control-plane-watchdog.pid" control-plane-watchdog; then
        local file restarts=""
        for file in "$RUN_DIR"/supervise/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,kwok-controller}.restarts; do
            [[ -f "$file" ]] && restarts+=" $(basename "$file" .restarts) $(cat "$file"),"
        done
        echo "control-plane watchdog: running (pid $(cat "$RUN_DIR/pids/control-plane-watchdog.pid")); restarts:${restarts:- none}"
    else
        echo "control-plane watchdog: not running"
        return 1
    fi
}

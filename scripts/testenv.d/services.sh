# shellcheck shell=bash
# Host prerequisites, the Docker engine, the base image and the registry. Sourced by scripts/testenv.

DEBIAN_PACKAGES=(docker.io docker-registry busybox-static ca-certificates curl
    # the real node: CNI plugins, the base images of app/real, kube-proxy's tools
    containernetworking-plugins debootstrap iptables iproute2 conntrack
    # the real browser that uses app/real's frontend after apply (tests/browser_e2e.rs, scripts/demo)
    chromium chromium-driver python3-selenium)
DOCKER_CLI=/usr/bin/docker # Debian's CLI, the same release as the engine it talks to

require_root() {
    [[ $EUID -eq 0 ]] ||
        die "run as root: scripts/testenv installs Debian packages and starts dockerd (which needs root)"
}

require_go() {
    command -v go >/dev/null ||
        die "Go is not installed; install Go 1.24 or newer (https://go.dev/dl/) and run again"
    local version major minor
    version=$(GOTOOLCHAIN=local go env GOVERSION)
    version=${version#go}
    major=${version%%.*}
    minor=${version#*.}
    minor=${minor%%.*}
    if ((major < 1 || (major == 1 && minor < 24))); then
        die "Go $version is too old to build Kubernetes $KUBERNETES_VERSION and kwok $KWOK_VERSION; install Go 1.24 or newer"
    fi
}

package_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

install_debian_packages() {
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        package_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get to install them"
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
}

# One directory to put first on PATH: the pinned kubectl and helm, the kwok tools, and the Docker
# CLI that matches the engine (a newer CLI elsewhere on PATH may default to BuildKit).
link_tools() {
    local bin="$RUN_DIR/bin"
    mkdir -p "$bin"
    ln -sfn "$(kubernetes_dir)/kubectl" "$bin/kubectl"
    ln -sfn "$(helm_dir)/helm" "$bin/helm"
    ln -sfn "$(kwok_dir)/kwokctl" "$bin/kwokctl"
    ln -sfn "$(kwok_dir)/kwok" "$bin/kwok"
    ln -sfn "$DOCKER_CLI" "$bin/docker"
}

# --- processes started by pid file -----------------------------------------------------------

# True when the pid file names a live process whose command line mentions $2 (guards against a
# recycled pid belonging to something else).
pid_alive() {
    local pidfile=$1 expect=$2 pid
    [[ -f "$pidfile" ]] || return 1
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$expect"
}

# Starts a daemon in its own session so it outlives this script and the shell that ran it.
start_daemon() {
    local name=$1
    shift
    setsid "$@" >>"$RUN_DIR/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/pids/$name.pid"
}

# Sends TERM, waits up to $3 seconds, then KILL.
stop_pid() {
    local pid=$1 name=$2 grace=${3:-20} i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "$name (pid $pid) did not stop in ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

# Processes whose command line names the run dir. Every daemon `up` starts has its socket, config
# or data inside it, so this finds them even without a pid file.
processes_using_run_dir() { processes_naming_dir "$RUN_DIR"; }

# Processes whose command line names a path below $1.
processes_naming_dir() {
    local dir=$1 cmdline pid text
    for cmdline in /proc/[0-9]*/cmdline; do
        pid=${cmdline#/proc/}
        pid=${pid%/cmdline}
        [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
        text=$(tr '\0' ' ' 2>/dev/null <"$cmdline") || continue
        [[ "$text" == *"$dir/"* ]] && printf '%s: %s\n' "$pid" "${text:0:120}"
    done
    return 0
}

unmount_below() {
    local dir=$1 mnt
    [[ -d "$dir" ]] || return 0
    local mounts
    # Deepest first; none at all is the usual case (dockerd unmounts its layers when it stops).
    mounts=$(awk -v prefix="$dir/" 'index($2, prefix) == 1 {print $2}' /proc/mounts | sort -r)
    for mnt in $mounts; do
        umount -l "$mnt" 2>/dev/null || log "could not unmount $mnt"
    done
}

wait_until() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# --- Docker engine ------------------------------------------------------------------------------

docker_sock() { echo "$RUN_DIR/docker.sock"; }
docker_cli() { DOCKER_HOST="unix://$(docker_sock)" "$DOCKER_CLI" "$@"; }

# overlay2 where the kernel has overlayfs: vfs copies the whole parent filesystem for every build
# step, which makes a Debian-based image (app/real) take minutes to build instead of seconds.
docker_storage_driver() {
    if [[ -n "${TODOPLAN_TESTENV_DOCKER_STORAGE:-}" ]]; then
        echo "$TODOPLAN_TESTENV_DOCKER_STORAGE"
    elif grep -qw overlay /proc/filesystems; then
        echo overlay2
    else
        echo vfs
    fi
}

start_dockerd() {
    if pid_alive "$RUN_DIR/pids/dockerd.pid" dockerd && docker_cli version >/dev/null 2>&1; then
        return 0
    fi
    log "starting dockerd (socket $(docker_sock))"
    mkdir -p "$RUN_DIR/docker/data" "$RUN_DIR/docker/exec"
    # Our own (empty) daemon config so a system /etc/docker/daemon.json cannot change this engine.
    echo '{}' >"$RUN_DIR/docker/daemon.json"
    rm -f "$(docker_sock)"
    start_daemon dockerd dockerd \
        --config-file "$RUN_DIR/docker/daemon.json" \
        --host "unix://$(docker_sock)" \
        --data-root "$RUN_DIR/docker/data" \
        --exec-root "$RUN_DIR/docker/exec" \
        --pidfile "$RUN_DIR/docker/dockerd.pid" \
        --storage-driver "$(docker_storage_driver)" \
        --iptables=false --ip6tables=false --bridge=none \
        --ip-forward=false # no bridge, so nothing to forward: leave the machine's switch alone
    wait_until 60 docker_cli version ||
        die "dockerd did not answer on $(docker_sock) within 60s; see $RUN_DIR/logs/dockerd.log"
}

stop_dockerd() {
    local pidfile="$RUN_DIR/pids/dockerd.pid"
    if pid_alive "$pidfile" dockerd; then
        stop_pid "$(cat "$pidfile")" dockerd 30
    fi
    # dockerd stops the containerd it started; this catches one left behind by a killed dockerd.
    local pidfile cpid
    while IFS= read -r pidfile; do
        cpid=$(cat "$pidfile" 2>/dev/null) || continue
        if [[ "$cpid" =~ ^[0-9]+$ ]]; then stop_pid "$cpid" containerd 10; fi
    done < <(find "$RUN_DIR/docker/exec" -name 'containerd.pid' -type f 2>/dev/null)
}

status_dockerd() {
    if pid_alive "$RUN_DIR/pids/dockerd.pid" dockerd && docker_cli version >/dev/null 2>&1; then
        echo "dockerd: running (pid $(cat "$RUN_DIR/pids/dockerd.pid"), unix://$(docker_sock))"
    else
        echo "dockerd: not running"
        return 1
    fi
}

# --- base image -----------------------------------------------------------------------------

# busybox:$BUSYBOX_TAG built from Debian's static busybox, laid out like the official image
# (applets as hard links in /bin, root and nobody users), so Dockerfiles FROM it build offline.
import_busybox_image() {
    local image="busybox:$BUSYBOX_TAG"
    docker_cli image inspect "$image" >/dev/null 2>&1 && return 0
    local busybox=/bin/busybox debian_version
    [[ -x "$busybox" ]] || die "$busybox is missing (Debian package busybox-static)"
    debian_version=$("$busybox" 2>&1 | sed -n 's/^BusyBox v\([0-9.]*\).*/\1/p' | head -n1)
    [[ "$debian_version" == "$BUSYBOX_TAG" ]] ||
        die "Debian's busybox is $debian_version but the image tag is $BUSYBOX_TAG; update BUSYBOX_TAG in scripts/testenv.d/versions.sh"
    log "importing $image from Debian's busybox-static"
    local rootfs
    rootfs=$(mktemp -d)
    mkdir -p "$rootfs"/{bin,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
    chmod 1777 "$rootfs/tmp"
    chmod 700 "$rootfs/root"
    cp "$busybox" "$rootfs/bin/busybox"
    local applet
    for applet in $("$busybox" --list); do
        [[ "$applet" == busybox ]] || ln "$rootfs/bin/busybox" "$rootfs/bin/$applet"
    done
    cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
    cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
www-data:x:33:
nogroup:x:65534:
EOF
    tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf - . |
        docker_cli import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["sh"]' \
            --message "busybox $BUSYBOX_TAG from Debian busybox-static (todoplan testenv)" \
            - "$image" >/dev/null ||
        die "docker import of $image failed"
    rm -rf "$rootfs"
}

# --- registry -------------------------------------------------------------------------------

registry_ok() { curl -fsS -o /dev/null --max-time 2 "http://$1/v2/"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_registry() {
    local pidfile="$RUN_DIR/pids/registry.pid" addr_file="$RUN_DIR/registry.addr"
    if pid_alive "$pidfile" docker-registry && [[ -f "$addr_file" ]] && registry_ok "$(cat "$addr_file")"; then
        return 0
    fi
    [[ -f "$pidfile" ]] && stop_pid "$(cat "$pidfile")" docker-registry 5
    mkdir -p "$RUN_DIR/registry/storage"
    local port addr
    # 5555 when free; otherwise the next free one. A port that only looks free (bound on another
    # address) shows up as the registry exiting, and the loop moves on.
    for ((port = 5555; port < 5655; port++)); do
        port_in_use "$port" && continue
        addr="127.0.0.1:$port"
        cat >"$RUN_DIR/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $RUN_DIR/registry/storage
  delete:
    enabled: true
http:
  addr: $addr
EOF
        start_daemon registry docker-registry serve "$RUN_DIR/registry/config.yml"
        if wait_until 15 registry_ok "$addr" && pid_alive "$pidfile" docker-registry; then
            echo "$addr" >"$addr_file"
            log "registry on $addr"
            return 0
        fi
        stop_pid "$(cat "$pidfile")" docker-registry 5
    done
    die "could not start the registry on any port in 5555-5654; see $RUN_DIR/logs/registry.log"
}

stop_registry() {
    local pidfile="$RUN_DIR/pids/registry.pid"
    if pid_alive "$pidfile" docker-registry; then
        stop_pid "$(cat "$pidfile")" docker-registry 10
    fi
}

status_registry() {
    local addr_file="$RUN_DIR/registry.addr"
    if pid_alive "$RUN_DIR/pids/registry.pid" docker-registry && [[ -f "$addr_file" ]] &&
        registry_ok "$(cat "$addr_file")"; then
        echo "registry: running (pid $(cat "$RUN_DIR/pids/registry.pid"), $(cat "$addr_file"))"
    else
        echo "registry: not running"
        return 1
    fi
}

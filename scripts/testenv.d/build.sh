# shellcheck shell=bash
# Builds the pinned Go binaries into the version-keyed cache. Sourced by scripts/testenv.
#
# Each component lands in "$TESTENV_CACHE/<component>-<version>/" and is built into a temporary
# directory first, then renamed into place, so an interrupted build never leaves a half-filled
# cache entry that a later `up` would trust. The Go module and build caches are Go's own
# (`go env GOMODCACHE GOCACHE`), so they are shared with anything else built on the machine.

go_env() {
    env GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$@"
}

# Prints a field of `go mod download -json MODULE@VERSION` (the call also fills the module cache).
go_module_field() {
    local module_at_version=$1 field=$2
    go_env go mod download -json "$module_at_version" |
        sed -n "s/^[[:space:]]*\"$field\": \"\\(.*\\)\",\?\$/\\1/p" | head -n1
}

# Moves a finished build into the cache in one rename.
publish_build() {
    local staging=$1 dest=$2
    rm -rf "$dest"
    mv "$staging" "$dest"
}

cache_has() {
    local dir=$1
    shift
    local bin
    for bin in "$@"; do
        [[ -x "$dir/$bin" ]] || return 1
    done
}

kubernetes_dir() { echo "$TESTENV_CACHE/kubernetes-$KUBERNETES_VERSION"; }
etcd_dir() { echo "$TESTENV_CACHE/etcd-$ETCD_VERSION"; }
kwok_dir() { echo "$TESTENV_CACHE/kwok-$KWOK_VERSION"; }
helm_dir() { echo "$TESTENV_CACHE/helm-$HELM_VERSION"; }
kubernetes_node_dir() { echo "$TESTENV_CACHE/kubernetes-node-$KUBERNETES_VERSION"; }
coredns_dir() { echo "$TESTENV_CACHE/coredns-$COREDNS_VERSION"; }

KUBERNETES_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
KUBERNETES_NODE_BINARIES=(kubelet kube-proxy)

# k8s.io/kubernetes cannot be `go install`ed: its go.mod points every staging module at
# ./staging/src/k8s.io/NAME. A wrapper module that requires it and maps each of those to the
# published k8s.io/NAME v0.MINOR.PATCH builds the same code. Writes that module into $1 and
# resolves the packages $2... (k8s.io/kubernetes/cmd/NAME) in it.
write_kubernetes_wrapper() {
    local work=$1
    shift
    local staging_version="v0.${KUBERNETES_VERSION#v1.}"
    rm -rf "$work"
    mkdir -p "$work"

    local published_gomod
    published_gomod=$(go_module_field "k8s.io/kubernetes@$KUBERNETES_VERSION" GoMod)
    [[ -f "$published_gomod" ]] || die "could not download the go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION"

    local go_directive
    go_directive=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$published_gomod")
    {
        echo "module todoplan.dev/testenv/kubernetes"
        echo
        echo "go $go_directive"
        echo
        echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
        echo
        echo "replace ("
        sed -n "s#^[[:space:]]*\\(k8s.io/[^[:space:]]*\\) => ./staging/src/k8s.io/.*\$#\t\\1 => \\1 $staging_version#p" "$published_gomod"
        echo ")"
    } >"$work/go.mod"
    grep -q "k8s.io/api => k8s.io/api $staging_version" "$work/go.mod" ||
        die "no staging replace lines found in $published_gomod"
    (cd "$work" && go_env go get "${@/%/@$KUBERNETES_VERSION}") ||
        die "resolving the Kubernetes wrapper module failed (see above)"
}

# The version stamps `make` would set, so `kubectl version` and the node's kubeletVersion read
# v1.Y.Z rather than v0.0.0-master.
kubernetes_ldflags() {
    local minor=${KUBERNETES_VERSION#v1.} commit
    minor=${minor%%.*}
    commit=$(go_module_field "k8s.io/kubernetes@$KUBERNETES_VERSION" Hash)
    local ldflags="-s -w" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
        ldflags+=" -X $pkg.gitTreeState=clean"
        [[ -n "$commit" ]] && ldflags+=" -X $pkg.gitCommit=$commit"
        ldflags+=" -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    done
    echo "$ldflags"
}

# Builds k8s.io/kubernetes/cmd/NAME for each NAME in $2... into the cache directory $1.
build_kubernetes_binaries() {
    local dest=$1
    shift
    local work="$TESTENV_CACHE/src/$(basename "$dest")"
    local -a packages=()
    local bin
    for bin in "$@"; do
        packages+=("k8s.io/kubernetes/cmd/$bin")
    done
    write_kubernetes_wrapper "$work" "${packages[@]}"
    local ldflags staging="$dest.building.$$"
    ldflags=$(kubernetes_ldflags)
    rm -rf "$staging"
    mkdir -p "$staging"
    (cd "$work" && go_env go build -trimpath -ldflags "$ldflags" -o "$staging/" "${packages[@]}") ||
        die "building Kubernetes ($*) failed (see above)"
    cp "$work/go.mod" "$staging/wrapper-go.mod"
    publish_build "$staging" "$dest"
}

build_kubernetes() {
    local dest
    dest=$(kubernetes_dir)
    cache_has "$dest" "${KUBERNETES_BINARIES[@]}" && return 0
    log "building Kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); the first build takes 10-25 minutes"
    build_kubernetes_binaries "$dest" "${KUBERNETES_BINARIES[@]}"
}

# The real node's binaries: the same wrapper module, so they share the control plane's build
# cache and take minutes rather than another full build. Their own cache directory keeps an
# existing control-plane cache valid.
build_kubernetes_node() {
    local dest
    dest=$(kubernetes_node_dir)
    cache_has "$dest" "${KUBERNETES_NODE_BINARIES[@]}" && return 0
    log "building Kubernetes $KUBERNETES_VERSION node binaries (kubelet, kube-proxy); about 10 minutes with the control plane's build cache warm"
    build_kubernetes_binaries "$dest" "${KUBERNETES_NODE_BINARIES[@]}"
}

# CoreDNS's tagged releases have no replace lines, so plain `go install` works.
build_coredns() {
    local dest
    dest=$(coredns_dir)
    cache_has "$dest" coredns && return 0
    log "building CoreDNS $COREDNS_VERSION"
    local staging="$dest.building.$$"
    rm -rf "$staging"
    mkdir -p "$staging"
    go_env GOBIN="$staging" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION" ||
        die "building CoreDNS failed (see above)"
    publish_build "$staging" "$dest"
}

# etcd's server module has replace lines too (for its sibling modules), so it gets a wrapper as well.
build_etcd() {
    local dest
    dest=$(etcd_dir)
    cache_has "$dest" etcd && return 0
    log "building etcd $ETCD_VERSION"
    local work="$TESTENV_CACHE/src/etcd-$ETCD_VERSION"
    rm -rf "$work"
    mkdir -p "$work"
    local commit
    commit=$(go_module_field "go.etcd.io/etcd/server/v3@$ETCD_VERSION" Hash)
    printf 'module todoplan.dev/testenv/etcd\n\ngo 1.24\n' >"$work/go.mod"
    (cd "$work" && go_env go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION") ||
        die "resolving etcd failed (see above)"
    local staging="$dest.building.$$"
    rm -rf "$staging"
    mkdir -p "$staging"
    local ldflags="-s -w"
    # The proxy does not always return the commit; without it etcd keeps its own placeholder.
    [[ -n "$commit" ]] && ldflags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=${commit:0:8}"
    (cd "$work" && go_env go build -trimpath -ldflags "$ldflags" -o "$staging/etcd" go.etcd.io/etcd/server/v3) ||
        die "building etcd failed (see above)"
    publish_build "$staging" "$dest"
}

# kwok's tagged releases have no replace lines, so plain `go install` works.
build_kwok() {
    local dest
    dest=$(kwok_dir)
    cache_has "$dest" kwok kwokctl && return 0
    log "building kwok and kwokctl $KWOK_VERSION"
    local staging="$dest.building.$$"
    rm -rf "$staging"
    mkdir -p "$staging"
    local ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
    ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION"
    go_env GOBIN="$staging" go install -trimpath -ldflags "$ldflags" \
        "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION" ||
        die "building kwok failed (see above)"
    publish_build "$staging" "$dest"
}

# The same ldflags as helm's own Makefile, so `helm version` and the default
# .Capabilities.KubeVersion of `helm template` match the official v3.17.3 release binary.
build_helm() {
    local dest
    dest=$(helm_dir)
    cache_has "$dest" helm && return 0
    log "building helm $HELM_VERSION"
    local commit helm_gomod client_go minor
    commit=$(go_module_field "helm.sh/helm/v3@$HELM_VERSION" Hash)
    helm_gomod=$(go_module_field "helm.sh/helm/v3@$HELM_VERSION" GoMod)
    client_go=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*$/\1/p' "$helm_gomod" | head -n1)
    [[ -n "$client_go" ]] || die "could not read the client-go version from helm's go.mod"
    minor=$client_go
    local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
    [[ -n "$commit" ]] && ldflags+=" -X helm.sh/helm/v3/internal/version.gitCommit=$commit"
    ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
    local pkg
    for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
        ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
    done
    local staging="$dest.building.$$"
    rm -rf "$staging"
    mkdir -p "$staging"
    go_env GOBIN="$staging" go install -trimpath -ldflags "$ldflags" \
        "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ||
        die "building helm failed (see above)"
    publish_build "$staging" "$dest"
}

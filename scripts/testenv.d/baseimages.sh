# shellcheck shell=bash
# Base images for the real Todo app (app/real/), made from Debian's packages: a debootstrap
# minbase root filesystem with a few packages, imported into the test dockerd. Sourced by
# scripts/testenv.
#
# The images are named for what they are (Debian bookworm, minbase, plus the named packages), not
# after an official image they resemble. app/real's Dockerfiles take them as the BASE_IMAGE build
# argument; elsewhere the same Dockerfiles start from the official debian:bookworm-slim and install
# the same packages with apt.
#
# The root filesystems are cached as tarballs in $TESTENV_CACHE/debian-images/, keyed by suite and
# package list, so only the first `up` on a machine runs debootstrap.

DEBIAN_SUITE=bookworm
# image reference -> the packages debootstrap adds to minbase
declare -A BASE_IMAGE_PACKAGES=(
    ["todoplan-testenv/bookworm-python3-fastapi:minbase"]="python3,python3-fastapi,python3-uvicorn,python3-psycopg2"
    ["todoplan-testenv/bookworm-postgresql-15:minbase"]="postgresql-15"
    # app/real's frontend runs on nodejs alone; npm only builds it (app/real/frontend/build).
    ["todoplan-testenv/bookworm-nodejs:minbase"]="nodejs"
    ["todoplan-testenv/bookworm-nodejs-npm:minbase"]="nodejs,ca-certificates"
)
# image reference -> packages apt-get installs into the root filesystem after debootstrap (in a
# chroot): debootstrap's own resolver fails to configure npm's dependency tree on minbase
# ("Failure while configuring base packages ... possibly the package npm is at fault").
declare -A BASE_IMAGE_APT_PACKAGES=(
    ["todoplan-testenv/bookworm-nodejs-npm:minbase"]="npm"
)

# The archive apt on this machine uses (debootstrap needs one; the machine reaches only that).
debian_mirror() {
    local uri
    uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
    [[ -n "$uri" ]] ||
        uri=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit} $1 == "deb" {print $3; exit}' /etc/apt/sources.list 2>/dev/null)
    [[ -n "$uri" ]] || die "cannot find Debian's archive in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    echo "$uri"
}

base_image_tarball() {
    local image=$1 key
    key=$(printf '%s %s %s' "$DEBIAN_SUITE" minbase "${BASE_IMAGE_PACKAGES[$image]}" | sha256sum | cut -c1-12)
    if [[ -n "${BASE_IMAGE_APT_PACKAGES[$image]:-}" ]]; then
        key=$(printf '%s apt %s' "$key" "${BASE_IMAGE_APT_PACKAGES[$image]}" | sha256sum | cut -c1-12)
    fi
    local name=${image#*/}
    echo "$TESTENV_CACHE/debian-images/${name%%:*}-$key.tar"
}

# Makes the cached root filesystem tarball of one base image (debootstrap, about a minute).
build_base_rootfs() {
    local image=$1 tarball
    tarball=$(base_image_tarball "$image")
    [[ -s "$tarball" ]] && return 0
    command -v debootstrap >/dev/null || die "debootstrap is missing (Debian package debootstrap)"
    log "debootstrap $DEBIAN_SUITE minbase + ${BASE_IMAGE_PACKAGES[$image]} for $image"
    mkdir -p "$(dirname "$tarball")"
    local rootfs="$tarball.rootfs.$$"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"
    local logfile="$TESTENV_CACHE/debian-images/debootstrap.log"
    if ! debootstrap --variant=minbase --include="${BASE_IMAGE_PACKAGES[$image]}" \
        "$DEBIAN_SUITE" "$rootfs" "$(debian_mirror)" >"$logfile" 2>&1; then
        umount_debootstrap_leftovers "$rootfs"
        rm -rf "$rootfs"
        die "debootstrap for $image failed; see $logfile"
    fi
    umount_debootstrap_leftovers "$rootfs"
    if [[ -n "${BASE_IMAGE_APT_PACKAGES[$image]:-}" ]] &&
        ! apt_install_into "$rootfs" "${BASE_IMAGE_APT_PACKAGES[$image]}" >>"$logfile" 2>&1; then
        umount_debootstrap_leftovers "$rootfs"
        rm -rf "$rootfs"
        die "apt-get install ${BASE_IMAGE_APT_PACKAGES[$image]} into the root filesystem of $image failed; see $logfile"
    fi
    # Package lists and the .deb cache are build leftovers, not part of the image.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/debootstrap
    # Which package versions are inside, for `docker inspect` (the image comment).
    local -a packages
    IFS=, read -ra packages <<<"${BASE_IMAGE_PACKAGES[$image]}${BASE_IMAGE_APT_PACKAGES[$image]:+,${BASE_IMAGE_APT_PACKAGES[$image]}}"
    chroot "$rootfs" dpkg-query -W -f '${Package}=${Version}\n' "${packages[@]}" >"$tarball.versions" 2>/dev/null || true
    tar --numeric-owner -C "$rootfs" -cf "$tarball.part" . || die "packing the root filesystem of $image failed"
    mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
}

# apt-get install PACKAGES (space-separated) in a chroot of ROOTFS, from the archive debootstrap
# wrote into its sources.list, through this machine's resolver.
apt_install_into() {
    local rootfs=$1 packages=$2 status=0
    mount -t proc proc "$rootfs/proc" || return 1
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
    # shellcheck disable=SC2086 # a list of package names
    chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive sh -c \
        "apt-get update -q && apt-get install -y -q --no-install-recommends $packages" || status=$?
    umount "$rootfs/proc" || true
    : >"$rootfs/etc/resolv.conf"
    return $status
}

umount_debootstrap_leftovers() {
    local rootfs=$1 mnt
    for mnt in $(awk -v prefix="$rootfs/" 'index($2, prefix) == 1 {print $2}' /proc/mounts | sort -r); do
        umount -l "$mnt" 2>/dev/null || true
    done
}

build_base_rootfs_all() {
    local image
    for image in "${!BASE_IMAGE_PACKAGES[@]}"; do
        build_base_rootfs "$image"
    done
}

import_base_images() {
    local image tarball
    for image in "${!BASE_IMAGE_PACKAGES[@]}"; do
        docker_cli image inspect "$image" >/dev/null 2>&1 && continue
        tarball=$(base_image_tarball "$image")
        [[ -s "$tarball" ]] || build_base_rootfs "$image"
        log "importing $image"
        docker_cli import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["bash"]' \
            --message "Debian $DEBIAN_SUITE debootstrap minbase + ${BASE_IMAGE_PACKAGES[$image]}${BASE_IMAGE_APT_PACKAGES[$image]:+ + apt ${BASE_IMAGE_APT_PACKAGES[$image]}} ($(paste -sd' ' "$tarball.versions" 2>/dev/null)) (todoplan testenv)" \
            "$tarball" "$image" >/dev/null ||
            die "docker import of $image failed"
    done
}

# app/real's Next.js frontend: `npm ci` and `next build` in the nodejs-npm image, cached by its
# sources and lock file (see app/real/frontend/build), into app/real/frontend/dist/, which its
# Dockerfile copies. A warm run only checks the cache key.
build_frontend_app() {
    local started=$SECONDS
    DOCKER_HOST="unix://$(docker_sock)" DOCKER_CLI="$DOCKER_CLI" TODOPLAN_TESTENV_CACHE="$TESTENV_CACHE" \
        "$REPO_ROOT/app/real/frontend/build" ||
        die "building app/real/frontend failed (see above)"
    log "app/real/frontend ready in $((SECONDS - started))s"
}

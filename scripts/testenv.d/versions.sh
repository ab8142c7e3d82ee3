# shellcheck shell=bash disable=SC2034  # read by the scripts that source this file
# Pinned versions of everything scripts/testenv builds or installs.
# Changing one invalidates only that component's cache directory.
KUBERNETES_VERSION=v1.33.13   # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
ETCD_VERSION=v3.5.35
KWOK_VERSION=v0.7.0           # built against Kubernetes libraries 0.33
HELM_VERSION=v3.17.3
# Debian bookworm's busybox-static is 1:1.35.0-4; the tag names the same upstream release, so a
# Dockerfile FROM busybox:1.35.0 means the same thing here and on a machine that pulls from Docker Hub.
BUSYBOX_TAG=1.35.0
KUBE_CONTEXT=kwok-todoplan
KWOK_CLUSTER_NAME=todoplan
COREDNS_VERSION=v1.11.4
# The real node (scripts/testenv.d/realnode.sh). The pause image is built locally from busybox and
# tagged as the name kubelet 1.33 and containerd expect, so no pod ever pulls it.
PAUSE_IMAGE=registry.k8s.io/pause:3.10
REAL_NODE_NAME=todoplan-real

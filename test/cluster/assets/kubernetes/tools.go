//go:build tools

// Package assets pins the sources of the node and control-plane binaries that the cluster test tier runs
// beside the k8s tier's kube-apiserver and etcd: all from one k8s.io/kubernetes version. Nothing here is
// compiled into the project; ensure-cluster-assets.sh builds them into a cache outside the repository.
package assets

import (
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)

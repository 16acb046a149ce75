//go:build tools

// Package assets pins the sources of the two server binaries that the k8s test tier runs:
// kube-apiserver (from the k8s.io/kubernetes module) and etcd (the main package at the root
// of go.etcd.io/etcd/server/v3). Nothing here is compiled into the project; ensure-assets.sh
// builds both binaries from this module into a cache directory outside the repository.
package assets

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)

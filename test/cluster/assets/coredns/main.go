// A CoreDNS with only the plugins the cluster tier's DNS needs: it answers cluster.local from the
// Kubernetes API and forwards nothing (no forward plugin is compiled in, so nothing can leave the machine).
// Built by ../ensure-cluster-assets.sh into a cache outside the repository; never part of the product.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The chain order of these plugins in CoreDNS's own plugin.cfg.
func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes"}
}

func main() { coremain.Run() }

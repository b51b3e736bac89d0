package container

import (
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the container plugin's configuration builder on arbitrary HCL.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, buildConfig,
		`runtime "containerd" {
  address = "/run/containerd/containerd.sock"
}
runtime "podman" {
  type    = "docker"
  address = "unix:///run/podman/podman.sock"
}
cache_size = 1024
cache_ttl  = "5m"
timeout    = "2s"`,
		`runtime "x" { type = "cri-o" }
runtime "x" {}
cache_ttl = "forever"`,
	)
}

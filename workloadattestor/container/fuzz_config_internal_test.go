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
		`runtime "containerd" { address = "/run/containerd/containerd.sock" }
provenance "ci" {
  trusted_root_paths = ["/nonexistent/trusted_root.json"]
  issuer             = "https://token.actions.githubusercontent.com"
  san_regex          = "https://github.com/org/app/.+"
  source_repository  = "https://github.com/org/app"
  predicate_types    = ["https://slsa.dev/provenance/v1"]
  builder_ids        = ["https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0"]
  tlog_threshold     = 1
}
provenance_bundle_dir = "/var/lib/hwattest/bundles"
provenance_timeout    = "2s"`,
	)
}

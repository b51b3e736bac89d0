package server

import (
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the server plugin's configuration builder on arbitrary HCL.
// Seeds: below and testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, func(text string) (*config, error) { return buildConfig(text, "example.org") },
		`get_collateral = false
intel_root_path = "/nonexistent/root.pem"
policy "image" {
  required = true
  mrtds = ["00", "zz"]
  rtmr0 = []
  rtmr3 = ["ab"]
  mrseams = []
  mr_config_ids = ["x"]
  mr_owners = []
  allow_debug = true
  unknown = 1
}`)
}

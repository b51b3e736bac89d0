package agent

import (
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the agent plugin's configuration builder on arbitrary HCL
// (the key is not read). Seeds: below and testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, func(text string) (*config, error) { return buildConfig(text, "example.org", false) },
		`key_path = "/var/lib/spire/agent/tdx-key.pem"`)
}

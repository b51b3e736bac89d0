package agent

import (
	"testing"

	"github.com/hwattest/hwattest/internal/hclconf/hclconftest"
)

// FuzzConfig: the agent plugin's configuration builder (no keys) on
// arbitrary HCL. Seeds: below and testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	hclconftest.Fuzz(f, func(text string) (*config, error) { return buildConfig(text, "example.org") }, `tpm = "/dev/tpmrm0"`)
}

package server

import (
	"os"
	"testing"
)

// TestConfidentialVMTemplate: examples/policies/confidential-vm/sev-snp.hcl
// is a valid plugin_data body, and its placeholder fails closed.
func TestConfidentialVMTemplate(t *testing.T) {
	b, err := os.ReadFile("../../../examples/policies/confidential-vm/sev-snp.hcl")
	if err != nil {
		t.Fatal(err)
	}
	c, err := buildConfig(string(b), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.policies) != 3 {
		t.Fatalf("%d policies", len(c.policies))
	}
	for _, p := range c.policies {
		if p.Required {
			t.Errorf("%s is required; templates start report-only", p.Name)
		}
	}
}

package cli

import (
	"os"
	"strings"
	"testing"
)

// TestRegoTemplateRules: the level 3 template in Rego holds exactly the
// rules hwattest reference --rego writes for secure boot, PCRs and boot
// components, so that the two cannot drift apart.
func TestRegoTemplateRules(t *testing.T) {
	b, err := os.ReadFile("../../../../examples/policies/rego/level3-reference.rego")
	if err != nil {
		t.Fatal(err)
	}
	want := regoRules(false, true, true, true)
	if !strings.HasSuffix(string(b), "\n"+want) {
		t.Errorf("examples/policies/rego/level3-reference.rego does not end with the rules of hwattest reference --rego:\n%s", want)
	}
}

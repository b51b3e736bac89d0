//go:build !hwattest_norego

package server_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/swtpmtest"
)

// TestRegoPolicies: Rego policies next to HCL ones in the plugin: a
// report-only one that allows gives its selector, a required one whose
// deny set is not empty refuses the node with its reasons; the level 3
// template in Rego configures.
func TestRegoPolicies(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "genuine.rego"), "package hwattest.genuine\nallow if input.ek.certificate_verified\n")
	writeFile(t, filepath.Join(dir, "pilot.rego"), `package hwattest.pilot
pilot := {"0000"}
allow if input.ek.hash in pilot
deny contains sprintf("EK %s is not in the pilot group", [input.ek.hash]) if not input.ek.hash in pilot
`)
	writeFile(t, filepath.Join(dir, "policies.hcl"), `
policy "genuine-rego" {
  rego_path = "genuine.rego"
  query     = "data.hwattest.genuine.allow"
}
policy "pilot" {
  rego_path = "pilot.rego"
  query     = "data.hwattest.pilot.allow"
}
`)
	base := fmt.Sprintf("ek_ca_paths = [%q, %q]\npolicy_paths = [%q]\n", sw.RootCAPath, sw.IssuerCAPath, dir)
	agentHCL := fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr)

	sc, ac := servePlugins(t, base, agentHCL)
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	got := " " + strings.Join(attrs.SelectorValues, " ") + " "
	if !strings.Contains(got, " policy:genuine-rego ") || strings.Contains(got, "policy:pilot") {
		t.Errorf("selectors %q: want policy:genuine-rego and not policy:pilot", got)
	}

	required := strings.Replace(base, "policy_paths", "policy \"pilot-required\" {\n  required = true\n  rego_path = "+fmt.Sprintf("%q", filepath.Join(dir, "pilot.rego"))+"\n  query = \"data.hwattest.pilot.allow\"\n}\npolicy_paths", 1)
	sc, ac = servePlugins(t, required, agentHCL)
	_, err = attest(t, sc, ac)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `policy "pilot-required": deny: EK `) ||
		!strings.Contains(err.Error(), " is not in the pilot group; data.hwattest.pilot.allow is undefined") {
		t.Errorf("error %v, want PermissionDenied with the deny reason", err)
	}

	if err := configure(fmt.Sprintf("bundled_ek_cas = true\npolicy_paths = [%q]", "../../../examples/policies/rego")); err != nil {
		t.Errorf("the plugin refuses the Rego level 3 template: %v", err)
	}
}

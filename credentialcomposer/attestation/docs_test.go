package attestation_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/credentialcomposer/attestation"
)

// TestTierTableDocumented: the docs page's trustworthiness vector table is
// the plugin's, row for row.
func TestTierTableDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/credentialcomposer-attestation.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Trustworthiness vector")
	if !ok {
		t.Fatal("no Trustworthiness vector section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| (node|workload) \\| `([^`]+)` \\| ([a-z-]+) \\| ([0-9]+) ")
	var got [][4]string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, [4]string{m[1], m[2], m[3], m[4]})
	}
	want := attestation.TierTable()
	if len(got) != len(want) {
		t.Fatalf("docs list %d rows, the plugin %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: docs %v, plugin %v", i+1, got[i], want[i])
		}
	}
}

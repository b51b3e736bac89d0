package cli_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server/ekca"
)

// TestEKCAs: ek-cas lists every bundled vendor CA certificate, as a table
// and as JSON.
func TestEKCAs(t *testing.T) {
	bundled, err := ekca.Bundled()
	if err != nil || len(bundled) < 50 {
		t.Fatalf("bundled: %d certificates, %v", len(bundled), err)
	}
	r := mustRun(t, cli.ExitOK, "ek-cas")
	for _, want := range []string{
		`(?m)^FILE +KIND +KEY +EXPIRES +SUBJECT$`,
		`(?m)^GS_TPM_RT\.pem +root +RSA 2048 +2049-03-18 +CN=GlobalSign Trusted Platform Module Root CA,`,
		`(?m)^INTEL_I\.pem +intermediate `,
		`(?m)^GCE_tpm_ek_root_1\.pem +root `,
		fmt.Sprintf(`\n%d certificates\n$`, len(bundled)),
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("ek-cas output lacks %s:\n%s", want, r.stdout)
		}
	}
	r = mustRun(t, cli.ExitOK, "ek-cas", "--json")
	var list []struct {
		File, Kind, Subject, SHA256 string
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != len(bundled) {
		t.Fatalf("--json: %d certificates, %v", len(list), err)
	}
	for _, c := range list {
		if c.File == "" || (c.Kind != "root" && c.Kind != "intermediate") || !strings.HasPrefix(c.Subject, "CN=") && !strings.Contains(c.Subject, "O=") || len(c.SHA256) != 64 {
			t.Errorf("entry %+v", c)
		}
	}
}

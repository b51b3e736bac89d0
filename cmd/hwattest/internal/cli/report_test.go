package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
)

// TestReportUsage: bad report flags are exit code 2, a server that is not
// there is exit code 4, each with one line on standard error.
func TestReportUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	if err := os.WriteFile(bad, []byte("policy \"p\" {\n  colour = \"blue\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "api.sock")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"report"}, cli.ExitUsage, "hwattest report: --socket PATH is required\n"},
		{[]string{"report", "--socket", missing, "extra"}, cli.ExitUsage, "hwattest report: unexpected argument \"extra\"\n"},
		{[]string{"report", "--socket", missing, "--format", "pdf"}, cli.ExitUsage, "hwattest report: --format \"pdf\": want table, json, csv, html\n"},
		{[]string{"report", "--socket", missing, "--levels", bad}, cli.ExitUsage, "hwattest report: --levels: " + bad + ": unknown configuration key \"policy.p.colour\"\n"},
		{[]string{"report", "--socket", missing, "--levels", "a,,b"}, cli.ExitUsage, "hwattest report: --levels \"a,,b\": an empty policy name (or a file that does not exist)\n"},
		{[]string{"report", "--socket", missing, "--levels", "a,b", "--levels", "b"}, cli.ExitUsage, "hwattest report: --levels: policy \"b\" given twice\n"},
		{[]string{"report", "--socket", missing, "--timeout", "2s"}, cli.ExitServer, "hwattest report: report: list agents: rpc error: code = Unavailable"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := run(t, tc.args...)
			if r.code != tc.code || !strings.HasPrefix(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and\n%s", r.code, r.stderr, tc.code, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

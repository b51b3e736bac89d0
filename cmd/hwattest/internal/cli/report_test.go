package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/internal/report"
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
		{[]string{"report", "--socket", missing, "--format", "pdf"}, cli.ExitUsage, "hwattest report: --format \"pdf\": want table, json, csv, html, ocsf, oscal\n"},
		{[]string{"report", "--socket", missing, "--levels", bad}, cli.ExitUsage, "hwattest report: --levels: " + bad + ": unknown configuration key \"policy.p.colour\"\n"},
		{[]string{"report", "--socket", missing, "--import-ap", "ap.json"}, cli.ExitUsage, "hwattest report: --import-ap needs --format oscal\n"},
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

func TestReportLevels(t *testing.T) {
	got, err := cli.LevelNames([]string{"../../../../examples/policies"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "level1-genuine,level2-measured-boot,level3-reference,level4-runtime" {
		t.Errorf("levels from examples/policies: %v", got)
	}
	got, err = cli.LevelNames([]string{"b,a", "c"})
	if err != nil || strings.Join(got, ",") != "b,a,c" {
		t.Errorf("levels %v, %v", got, err)
	}
	if got, err := cli.LevelNames(nil); got != nil || err != nil {
		t.Errorf("no --levels: %v, %v", got, err)
	}
}

// TestReportOutput writes an HTML report to a file from a fake server.
func TestReportOutput(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr strings.Builder
	err := cli.WriteReport(t.Context(), cli.Env(&stdout, &stderr), fakeSPIRE{}, "html", out, []string{"level1"}, time.Now(), report.OSCALOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<span class="status s-ok">ok</span>`) || stdout.Len() != 0 {
		t.Errorf("report.html:\n%s\nstdout %q", b, stdout.String())
	}
}

// fakeSPIRE is a server with one agent at level1 and no entries.
type fakeSPIRE struct{}

func (fakeSPIRE) ListAgents(context.Context, *agentv1.ListAgentsRequest, ...grpc.CallOption) (*agentv1.ListAgentsResponse, error) {
	return &agentv1.ListAgentsResponse{Agents: []*types.Agent{{
		Id:              &types.SPIFFEID{TrustDomain: "example.org", Path: "/spire/agent/tpm/ab"},
		AttestationType: "tpm",
		Selectors:       []*types.Selector{{Type: "tpm", Value: "policy:level1"}},
	}}}, nil
}

func (fakeSPIRE) ListEntries(context.Context, *entryv1.ListEntriesRequest, ...grpc.CallOption) (*entryv1.ListEntriesResponse, error) {
	return &entryv1.ListEntriesResponse{}, nil
}

// TestReportOSCAL writes OSCAL with the import-ap given and OCSF lines from
// a fake server.
func TestReportOSCAL(t *testing.T) {
	var stdout, stderr strings.Builder
	err := cli.WriteReport(t.Context(), cli.Env(&stdout, &stderr), fakeSPIRE{}, "oscal", "-", []string{"level1"}, time.Now(),
		report.OSCALOptions{ImportAP: "https://grc.example.org/ap.json"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), `"import-ap": {
      "href": "https://grc.example.org/ap.json"
    }`) || !strings.Contains(stdout.String(), `"state": "satisfied"`) {
		t.Errorf("OSCAL:\n%s", stdout.String())
	}
	stdout.Reset()
	if err := cli.WriteReport(t.Context(), cli.Env(&stdout, &stderr), fakeSPIRE{}, "ocsf", "-", []string{"level1"}, time.Now(), report.OSCALOptions{}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], `"class_uid":2003`) {
		t.Errorf("OCSF:\n%s", stdout.String())
	}
}

package load_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"google.golang.org/grpc"

	"github.com/hwattest/hwattest/internal/report"
	"github.com/hwattest/hwattest/test/integration/harness"
	"github.com/hwattest/hwattest/test/load"
)

// TestSmoke enrols 20 agents with the tpm attestor and re-attests them 100
// times in all, then checks that every attestation succeeded and that SPIRE
// holds exactly those 20 agents (and the join_token baseline's). It asserts
// counts, never timing.
func TestSmoke(t *testing.T) {
	const agents, reattest, tokens = 20, 100, 5
	e := load.Start(t, load.Options{})
	enrol := e.Run(t, "tpm enrol", agents, 0, func(k int) load.Result { return e.AttestTPM(t, k) })
	steady := e.Run(t, "tpm re-attest", reattest, 0, func(k int) load.Result { return e.AttestTPM(t, k%agents) })
	base := e.Run(t, "join_token enrol", tokens, 0, func(int) load.Result { return e.AttestJoinToken(t) })
	for _, r := range []*load.Report{enrol, steady, base} {
		t.Log(r)
		if r.Failed() != 0 {
			t.Errorf("%s: %d attestations failed: %v", r.Name, r.Failed(), r.Failures)
		}
	}
	if n := e.Agents(t, "tpm"); n != agents {
		t.Errorf("SPIRE lists %d tpm agents, want %d", n, agents)
	}
	if n := e.Agents(t, "join_token"); n != tokens {
		t.Errorf("SPIRE lists %d join_token agents, want %d", n, tokens)
	}
}

// TestLoad is `make load`: sizes from the environment (see README.md).
// It reports figures and asserts only that every attestation succeeded.
func TestLoad(t *testing.T) {
	if os.Getenv("HWATTEST_LOAD") == "" {
		t.Skip("set HWATTEST_LOAD=1 (make load) to run the load")
	}
	n := envInt(t, "LOAD_AGENTS", 1000)
	rate := envFloat(t, "LOAD_RATE", 33)
	dur := envDuration(t, "LOAD_DURATION", time.Minute)
	baseline := envInt(t, "LOAD_BASELINE", 200)
	opts := load.Options{Postgres: os.Getenv("LOAD_DB") != "sqlite", AgentTTL: os.Getenv("LOAD_AGENT_TTL"), Servers: envInt(t, "LOAD_SERVERS", 1)}
	e := load.Start(t, opts)
	var reports []*load.Report
	report := func(r *load.Report) {
		reports = append(reports, r)
		t.Log(r)
		if r.Failed() != 0 {
			t.Errorf("%s: %d failed: %v", r.Name, r.Failed(), r.Failures)
		}
	}
	report(e.Run(t, "join_token enrol (baseline)", baseline, 0, func(int) load.Result { return e.AttestJoinToken(t) }))
	report(e.Run(t, "tpm enrol", n, 0, func(k int) load.Result { return e.AttestTPM(t, k) }))
	report(e.Run(t, "join_token enrol (baseline, after)", baseline, 0, func(int) load.Result { return e.AttestJoinToken(t) }))
	steadyN := int(rate * dur.Seconds())
	report(e.Run(t, "tpm steady re-attest", steadyN, rate, func(k int) load.Result { return e.AttestTPM(t, k%n) }))
	if got := e.Agents(t, "tpm"); got != n {
		t.Errorf("SPIRE lists %d tpm agents, want %d", got, n)
	}
	if got := e.Agents(t, "join_token"); got != 2*baseline {
		t.Errorf("SPIRE lists %d join_token agents, want %d", got, 2*baseline)
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("load average after the run: %s", la)
	}
	if os.Getenv("LOAD_REPORT") != "" {
		reportOverAll(t, e, n+2*baseline)
	}
}

// countingSource counts the report's calls to SPIRE's API.
type countingSource struct {
	report.Source
	agents, entries int
}

func (c *countingSource) ListAgents(ctx context.Context, req *agentv1.ListAgentsRequest, opts ...grpc.CallOption) (*agentv1.ListAgentsResponse, error) {
	c.agents++
	return c.Source.ListAgents(ctx, req, opts...)
}

func (c *countingSource) ListEntries(ctx context.Context, req *entryv1.ListEntriesRequest, opts ...grpc.CallOption) (*entryv1.ListEntriesResponse, error) {
	c.entries++
	return c.Source.ListEntries(ctx, req, opts...)
}

// reportOverAll builds the hwattest report over every agent SPIRE holds:
// in process through a counting Source (the calls it makes: pages, not a
// call per node), then the hwattest binary under /usr/bin/time -v (wall
// time, CPU, peak memory).
func reportOverAll(t *testing.T, e *load.Env, agents int) {
	src, conn, err := report.Dial(e.Server.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &countingSource{Source: src}
	start := time.Now()
	r, err := report.Build(t.Context(), c, nil, time.Now())
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	t.Logf("report.Build: %d nodes, %d workloads in %.2fs: %d ListAgents calls, %d ListEntries calls",
		len(r.Nodes), len(r.Workloads), time.Since(start).Seconds(), c.agents, c.entries)
	if len(r.Nodes) != agents {
		t.Errorf("report has %d nodes, want %d", len(r.Nodes), agents)
	}
	// Pages of 500 (internal/report's page size): SPIRE returns a next
	// page token with every page that holds agents, so the last call is
	// the one that returns none.
	if want := (agents+499)/500 + 1; c.agents > want || c.entries > 1 {
		t.Errorf("report made %d ListAgents and %d ListEntries calls, want at most %d and 1 (pages, not a call per node)", c.agents, c.entries, want)
	}
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command("/usr/bin/time", "-v", harness.Plugins(t)["hwattest"].Path, "report", "--socket", e.Server.Socket, "--format", "json", "-o", out)
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hwattest report: %v\n%s", err, res)
	}
	var lines []string
	for _, l := range strings.Split(string(res), "\n") {
		for _, k := range []string{"Elapsed (wall clock)", "Maximum resident set size", "User time", "System time"} {
			if strings.Contains(l, k) {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hwattest report --format json over %d agents (%d bytes): %s", agents, st.Size(), strings.Join(lines, "; "))
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envFloat(t *testing.T, name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return f
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}

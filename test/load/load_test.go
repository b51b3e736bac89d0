package load_test

import (
	"os"
	"strconv"
	"testing"
	"time"

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
	e := load.Start(t, load.Options{Postgres: os.Getenv("LOAD_DB") != "sqlite", AgentTTL: os.Getenv("LOAD_AGENT_TTL")})
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

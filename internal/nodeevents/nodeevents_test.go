package nodeevents_test

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/nodeevents"
	"github.com/hwattest/hwattest/internal/nodeevents/nodeeventstest"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// counts collects delivery outcomes.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(webhook, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[webhook+"/"+result]++
}

// waitFor waits until the outcome k was counted n times, or 20 s, and
// returns its count.
func (c *counts) waitFor(k string, n int) int {
	deadline := time.Now().Add(20 * time.Second)
	for c.get(k) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return c.get(k)
}

func (c *counts) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// TestDelivery: over TLS with the webhook's CA and a bearer token, each
// outcome reaches the webhook as a structured CloudEvent whose data is the
// node; a refusal before the node proved its identity does not name it as
// its subject; the token is never in a log line.
func TestDelivery(t *testing.T) {
	r, srv := nodeeventstest.StartTLS(t)
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	const token = "s3cr3t-token-value"
	hooks, errs := nodeevents.Compile(map[string]nodeevents.WebhookConfig{
		"isolate": {URL: r.URL, CAPath: ca, BearerTokenPath: writeFile(t, "token", token+"\n")},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var logs logbuf.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})
	var c counts
	p := nodeevents.Start("tpm", "example.org", hooks, nodeevents.NewHistory(10), log, c.add)
	defer p.Close()

	const id = "spiffe://example.org/spire/agent/tpm/abc"
	p.Attested(id, []string{"genuine", "level3"}, []string{`level4: ima log missing`})
	p.Refused(nodeevents.Refusal{AgentID: id, Reason: "policy", Err: errors.New(`policy "level3": pcr 7 differs`), Evaluated: true, Policies: []string{"genuine"}})
	p.Attested(id, []string{"genuine", "level3"}, nil)
	p.Refused(nodeevents.Refusal{ClaimedAgentID: id, Reason: "ek_untrusted", Err: errors.New("tpmquote: ek certificate: x509: certificate signed by unknown authority")})

	got := r.Wait(t, 6)
	if want := "attested refused drift attested policies_changed refused"; nodeeventstest.Types(got) != want {
		t.Fatalf("types %s, want %s", nodeeventstest.Types(got), want)
	}
	for _, e := range got {
		if err := e.Validate(); err != nil || e.Source() != "urn:hwattest:nodeattestor:tpm" || e.DataContentType() != "application/json" {
			t.Errorf("event %s: %v", e, err)
		}
	}
	if drift := nodeeventstest.Data(t, got[2]); got[2].Subject() != id || strings.Join(drift.Lost, ",") != "level3" || strings.Join(drift.Previous, ",") != "genuine,level3" || drift.TrustDomain != "example.org" {
		t.Errorf("drift event %+v", drift)
	}
	if refused := nodeeventstest.Data(t, got[1]); refused.Reason != "policy" || refused.Error != `policy "level3": pcr 7 differs` {
		t.Errorf("refused event %+v", refused)
	}
	if changed := nodeeventstest.Data(t, got[4]); strings.Join(changed.Gained, ",") != "level3" || len(changed.Lost) != 0 {
		t.Errorf("policies_changed event %+v", changed)
	}
	if unproven := nodeeventstest.Data(t, got[5]); got[5].Subject() != "" || unproven.AgentID != "" || unproven.ClaimedAgentID != id {
		t.Errorf("a refusal before the node proved its identity names it: subject %q, %+v", got[5].Subject(), unproven)
	}
	if h := r.Header(0); h.Get("Content-Type") != nodeevents.ContentType || h.Get("Authorization") != "Bearer "+token {
		t.Errorf("headers %v", h)
	}
	if n := c.waitFor("isolate/delivered", 6); n != 6 {
		t.Errorf("%d delivered", n)
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token is in a log line:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "Node lost policies") {
		t.Errorf("no drift log line:\n%s", logs.String())
	}
}

// TestRetries: a 503 is retried (with backoff) until accepted; a 400 is
// not retried; a webhook that is down is given up after max_attempts.
// The URL's credentials are redacted in the log.
func TestRetries(t *testing.T) {
	flaky := nodeeventstest.Start(t, func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	refusing := nodeeventstest.Start(t, func(int) int { return http.StatusBadRequest })
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := strings.Replace(down.URL, "http://", "http://user:pa55word@", 1)
	down.Close()

	hooks, errs := nodeevents.Compile(map[string]nodeevents.WebhookConfig{
		"flaky":    {URL: flaky.URL},
		"refusing": {URL: refusing.URL},
		"down":     {URL: downURL, MaxAttempts: 2, Timeout: "1s"},
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var logs logbuf.Buffer
	var c counts
	p := nodeevents.Start("sev_snp", "example.org", hooks, nil, hclog.New(&hclog.LoggerOptions{Output: &logs}), c.add)
	defer p.Close()
	p.Attested("spiffe://example.org/spire/agent/sev_snp/01", nil, nil)
	flaky.Wait(t, 1)
	if c.waitFor("flaky/delivered", 1) != 1 || c.waitFor("refusing/failed", 1) != 1 || c.waitFor("down/failed", 1) != 1 {
		t.Errorf("counts %v", c.m)
	}
	if flaky.Requests() != 2 || refusing.Requests() != 1 {
		t.Errorf("flaky answered %d requests, refusing %d", flaky.Requests(), refusing.Requests())
	}
	if strings.Contains(logs.String(), "pa55word") || !strings.Contains(logs.String(), "Node event not delivered") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestNeverBlocks: a webhook that does not answer fills its queue; further
// events are dropped and counted, and publishing returns at once.
func TestNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	hooks, errs := nodeevents.Compile(map[string]nodeevents.WebhookConfig{"slow": {URL: srv.URL, QueueSize: 2, Timeout: "1m"}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var c counts
	p := nodeevents.Start("tpm", "example.org", hooks, nil, hclog.NewNullLogger(), c.add)
	for range 100 {
		p.Attested("spiffe://example.org/spire/agent/tpm/x", nil, nil)
	}
	// At most one event is with the sender and two in the queue: the rest
	// were dropped.
	if d := c.get("slow/dropped"); d < 97 || d > 99 {
		t.Errorf("%d dropped of 100", d)
	}
	go p.Close()
}

// TestCompileErrors: every problem of every webhook, at once.
func TestCompileErrors(t *testing.T) {
	_, errs := nodeevents.Compile(map[string]nodeevents.WebhookConfig{
		"a": {},
		"b": {URL: "http://isolate.example:8080/events", Timeout: "soon", MaxAttempts: 50, QueueSize: -1},
		"c": {URL: "ftp://x", CAPath: "/nonexistent/ca.pem", BearerTokenPath: writeFile(t, "token", "two\nlines\n")},
	})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`event_webhook "a": url is required`,
		`event_webhook "b": url http://isolate.example:8080/events: plain http only to a loopback address (node states would cross the network in clear); use https`,
		`event_webhook "b": timeout "soon": want a positive duration`,
		`event_webhook "b": max_attempts 50: want 1 to 20`,
		`event_webhook "b": queue_size -1: want 1 to 65536`,
		`event_webhook "c": url ftp://x: want https://host/path`,
		`event_webhook "c": ca_path: open /nonexistent/ca.pem: no such file or directory`,
	}
	if len(got) != len(want)+1 || strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n") || !strings.Contains(got[len(want)], "want one line holding the token") {
		t.Errorf("errors:\n%s", strings.Join(got, "\n"))
	}
	if _, errs := nodeevents.Compile(map[string]nodeevents.WebhookConfig{"local": {URL: "http://127.0.0.1:9/x"}, "tls": {URL: "https://isolate.example/x"}}); len(errs) > 0 {
		t.Errorf("valid webhooks refused: %v", errs)
	}
}

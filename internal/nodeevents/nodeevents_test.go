package nodeevents_test

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/hashicorp/go-hclog"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/nodeevents"
)

// receiver is a webhook that keeps what it was sent.
type receiver struct {
	mu      sync.Mutex
	events  []event.Event
	headers []http.Header
	answer  func(n int) int // status for the n-th request (from 1)
	n       int
	got     chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.n++
	code := http.StatusAccepted
	if r.answer != nil {
		code = r.answer(r.n)
	}
	if code/100 == 2 {
		var e event.Event
		if err := json.Unmarshal(body, &e); err == nil {
			r.events = append(r.events, e)
			r.headers = append(r.headers, req.Header.Clone())
		}
	}
	r.mu.Unlock()
	w.WriteHeader(code)
	select {
	case r.got <- struct{}{}:
	default:
	}
}

func (r *receiver) wait(t *testing.T, n int) []event.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		r.mu.Lock()
		if len(r.events) >= n {
			out := append([]event.Event(nil), r.events...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("webhook received %d events, want %d", len(r.events), n)
		}
	}
}

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

// waitFor waits until the outcome k was counted n times, or 20 s.
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
// node; the token is never in a log line.
func TestDelivery(t *testing.T) {
	r := &receiver{got: make(chan struct{}, 1)}
	srv := httptest.NewTLSServer(r)
	defer srv.Close()
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	const token = "s3cr3t-token-value"
	hooks, errs := nodeevents.Compile(map[string]nodeevents.WebhookConfig{
		"isolate": {URL: srv.URL + "/events", CAPath: ca, BearerTokenPath: writeFile(t, "token", token+"\n")},
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
	p.Refused(id, "policy", errors.New(`policy "level3": pcr 7 differs`), true, []string{"genuine"}, nil)
	p.Attested(id, []string{"genuine", "level3"}, nil)
	p.Refused("", "malformed", errors.New("tpmquote: truncated"), false, nil, nil)

	got := r.wait(t, 6)
	var types []string
	for _, e := range got {
		types = append(types, strings.TrimPrefix(strings.TrimSuffix(e.Type(), ".v1"), "io.hwattest.node."))
		if err := e.Validate(); err != nil || e.Source() != "urn:hwattest:nodeattestor:tpm" || e.DataContentType() != "application/json" {
			t.Errorf("event %s: %v", e, err)
		}
	}
	if want := "attested refused drift attested policies_changed refused"; strings.Join(types, " ") != want {
		t.Errorf("types %v, want %s", types, want)
	}
	var drift nodeevents.Node
	if err := got[2].DataAs(&drift); err != nil {
		t.Fatal(err)
	}
	if got[2].Subject() != id || strings.Join(drift.Lost, ",") != "level3" || strings.Join(drift.Previous, ",") != "genuine,level3" || drift.TrustDomain != "example.org" {
		t.Errorf("drift event %+v", drift)
	}
	var refused nodeevents.Node
	_ = got[1].DataAs(&refused)
	if refused.Reason != "policy" || refused.Error != `policy "level3": pcr 7 differs` {
		t.Errorf("refused event %+v", refused)
	}
	var changed nodeevents.Node
	_ = got[4].DataAs(&changed)
	if strings.Join(changed.Gained, ",") != "level3" || len(changed.Lost) != 0 {
		t.Errorf("policies_changed event %+v", changed)
	}
	r.mu.Lock()
	h := r.headers[0]
	r.mu.Unlock()
	if h.Get("Content-Type") != nodeevents.ContentType || h.Get("Authorization") != "Bearer "+token {
		t.Errorf("headers %v", h)
	}
	if c.waitFor("isolate/delivered", 6) != 6 {
		t.Errorf("counts %v", c.m)
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
	flaky := &receiver{got: make(chan struct{}, 1), answer: func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	s1 := httptest.NewServer(flaky)
	defer s1.Close()
	refusing := &receiver{got: make(chan struct{}, 1), answer: func(int) int { return http.StatusBadRequest }}
	s2 := httptest.NewServer(refusing)
	defer s2.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := strings.Replace(down.URL, "http://", "http://user:pa55word@", 1)
	down.Close()

	hooks, errs := nodeevents.Compile(map[string]nodeevents.WebhookConfig{
		"flaky":    {URL: s1.URL},
		"refusing": {URL: s2.URL},
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
	flaky.wait(t, 1)
	c.waitFor("flaky/delivered", 1)
	c.waitFor("refusing/failed", 1)
	c.waitFor("down/failed", 1)
	flaky.mu.Lock()
	attempts := flaky.n
	flaky.mu.Unlock()
	refusing.mu.Lock()
	refusals := refusing.n
	refusing.mu.Unlock()
	if attempts != 2 || refusals != 1 || c.get("flaky/delivered") != 1 || c.get("refusing/failed") != 1 || c.get("down/failed") != 1 {
		t.Errorf("flaky attempts %d, refusing attempts %d, counts %v", attempts, refusals, c.m)
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
	// One event is with the sender, two in the queue: the rest dropped.
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

package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/nodeevents"
	"github.com/hwattest/hwattest/internal/swtpmtest"
)

// TestNodeEvents: the plugin posts a CloudEvent per outcome to its
// webhook: attested; after a policy edit that the node fails as required,
// refused and drift (the policy lost); after the edit is undone, attested
// and policies_changed. Each names the node's agent ID.
func TestNodeEvents(t *testing.T) {
	var mu sync.Mutex
	var got []event.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var e event.Event
		if err := json.Unmarshal(b, &e); err != nil || r.Header.Get("Content-Type") != nodeevents.ContentType {
			t.Errorf("webhook got %q (%s): %v", b, r.Header.Get("Content-Type"), err)
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	defer hook.Close()
	waitEvents := func(n int) []event.Event {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			out := append([]event.Event(nil), got...)
			mu.Unlock()
			if len(out) >= n || time.Now().After(deadline) {
				return out
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	sw := swtpmtest.Start(t, swtpmtest.Options{})
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policies", "p.hcl")
	genuine := "policy \"genuine\" {\n  ek_certificate = true\n}\n"
	failing := fmt.Sprintf("policy \"genuine\" {\n  required = true\n  pcrs = [\"sha256:7:%s\"]\n}\n", strings.Repeat("1", 64))
	writeFile(t, policyFile, genuine)
	var logs logbuf.Buffer
	caHCL := fmt.Sprintf("ek_ca_paths = [%q, %q]", sw.RootCAPath, sw.IssuerCAPath)
	sc := serveServer(t, fmt.Sprintf("%s\npolicy_paths = [%q]\nevent_webhook \"isolate\" {\n  url = %q\n}", caHCL, filepath.Dir(policyFile), hook.URL), &logs, &fakeMetrics{})
	_, ac := servePlugins(t, caHCL, fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr))

	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	agentID := attrs.SpiffeId
	writeFile(t, policyFile, failing)
	if _, err := attest(t, sc, ac); err == nil {
		t.Fatal("the failing required policy accepted the node")
	}
	writeFile(t, policyFile, genuine)
	if _, err := attest(t, sc, ac); err != nil {
		t.Fatal(err)
	}

	events := waitEvents(5)
	var types []string
	for _, e := range events {
		types = append(types, strings.TrimSuffix(strings.TrimPrefix(e.Type(), "io.hwattest.node."), ".v1"))
		if e.Subject() != agentID {
			t.Errorf("%s names %q, want %q", e.Type(), e.Subject(), agentID)
		}
	}
	if want := "attested refused drift attested policies_changed"; strings.Join(types, " ") != want {
		t.Fatalf("events %v, want %s", types, want)
	}
	var refused, drift nodeevents.Node
	_ = events[1].DataAs(&refused)
	_ = events[2].DataAs(&drift)
	if refused.Reason != "policy" || !strings.Contains(refused.Error, `policy "genuine"`) || refused.Attestor != "tpm" || refused.TrustDomain != td {
		t.Errorf("refused %+v", refused)
	}
	b, _ := json.MarshalIndent(events[2], "", "  ")
	t.Logf("drift event as posted:\n%s", b)
	if strings.Join(drift.Lost, ",") != "genuine" || strings.Join(drift.Previous, ",") != "genuine" {
		t.Errorf("drift %+v", drift)
	}
	if !strings.Contains(logs.String(), "Node lost policies it satisfied at its previous attestation") {
		t.Errorf("no drift log line:\n%s", logs.String())
	}
}

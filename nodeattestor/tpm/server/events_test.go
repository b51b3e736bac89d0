package server_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/nodeevents/nodeeventstest"
	"github.com/hwattest/hwattest/internal/pluginmetrics/metricstest"
	"github.com/hwattest/hwattest/internal/swtpmtest"
)

// TestNodeEvents: the plugin posts a CloudEvent per outcome to its
// webhook: attested; after a policy edit that the node fails as required,
// refused and drift (the policy lost); after the edit is undone, attested
// and policies_changed. Each names the node's agent ID.
func TestNodeEvents(t *testing.T) {
	hook := nodeeventstest.Start(t, nil)
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policies", "p.hcl")
	genuine := "policy \"genuine\" {\n  ek_certificate = true\n}\n"
	failing := fmt.Sprintf("policy \"genuine\" {\n  required = true\n  pcrs = [\"sha256:7:%s\"]\n}\n", strings.Repeat("1", 64))
	writeFile(t, policyFile, genuine)
	var logs logbuf.Buffer
	caHCL := fmt.Sprintf("ek_ca_paths = [%q, %q]", sw.RootCAPath, sw.IssuerCAPath)
	sc := serveServer(t, fmt.Sprintf("%s\npolicy_paths = [%q]\nevent_webhook \"isolate\" {\n  url = %q\n}", caHCL, filepath.Dir(policyFile), hook.URL), &logs, &metricstest.Fake{})
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

	events := hook.Wait(t, 5)
	if want := "attested refused drift attested policies_changed"; nodeeventstest.Types(events) != want {
		t.Fatalf("events %s, want %s", nodeeventstest.Types(events), want)
	}
	for _, e := range events {
		if e.Subject() != agentID {
			t.Errorf("%s names %q, want %q", e.Type(), e.Subject(), agentID)
		}
	}
	refused, drift := nodeeventstest.Data(t, events[1]), nodeeventstest.Data(t, events[2])
	if refused.Reason != "policy" || !strings.Contains(refused.Error, `policy "genuine"`) || refused.Attestor != "tpm" || refused.TrustDomain != td {
		t.Errorf("refused %+v", refused)
	}
	b, _ := json.MarshalIndent(events[2], "", "  ")
	t.Logf("drift event as posted:\n%s", b)
	if strings.Join(drift.Lost, ",") != "genuine" || strings.Join(drift.Previous, ",") != "genuine" {
		t.Errorf("drift %+v", drift)
	}
	if !logs.Contains("Node lost policies it satisfied at its previous attestation", logWait) {
		t.Errorf("no drift log line:\n%s", logs.String())
	}

	// A denied EK is refused before the node proves it holds it: anyone
	// can send a copy of an EK certificate, so the event names the agent as
	// claimed only, never as its subject.
	ekHash := agentID[strings.LastIndex(agentID, "/")+1:]
	sc = serveServer(t, fmt.Sprintf("%s\ndeny_ek_hashes = [%q]\nevent_webhook \"isolate\" {\n  url = %q\n}", caHCL, ekHash, hook.URL), &logs, &metricstest.Fake{})
	if _, err := attest(t, sc, ac); err == nil {
		t.Fatal("denied EK accepted")
	}
	events = hook.Wait(t, 6)
	if denied := nodeeventstest.Data(t, events[5]); len(events) != 6 || events[5].Subject() != "" || denied.AgentID != "" || denied.ClaimedAgentID != agentID || denied.Reason != "ek_denied" {
		t.Errorf("denied EK event: %v %+v", events[5], denied)
	}

	// A boot log that does not replay to the quoted PCRs (the TPM's PCRs
	// changed since the boot the log records) is refused after the quote
	// proved the node holds the EK: the refusal names the agent, so
	// hwattest isolate acts on it.
	sc = serveServer(t, fmt.Sprintf("%s\nevent_webhook \"isolate\" {\n  url = %q\n}", caHCL, hook.URL), &logs, &metricstest.Fake{})
	_, ac = servePlugins(t, caHCL, fmt.Sprintf("tpm = %q\nevent_log_path = %q", sw.Addr, "../../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin"))
	if _, err := attest(t, sc, ac); err == nil {
		t.Fatal("a boot log that does not replay was accepted")
	}
	events = hook.Wait(t, 7)
	if replay := nodeeventstest.Data(t, events[6]); len(events) != 7 || events[6].Subject() != agentID || replay.AgentID != agentID || replay.Reason != "eventlog_replay" {
		t.Errorf("log replay refusal event: %v %+v", events[6], replay)
	}
}

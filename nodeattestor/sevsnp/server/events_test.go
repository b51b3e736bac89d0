package server_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/nodeevents/nodeeventstest"
	"github.com/hwattest/hwattest/internal/snptest"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp/agent"
)

// switching is a report provider whose guest the test changes.
type switching struct {
	guest atomic.Pointer[agent.ReportProvider]
}

func (s *switching) GetRawQuote(reportData [64]byte) ([]byte, error) {
	return (*s.guest.Load()).GetRawQuote(reportData)
}

func (s *switching) use(p agent.ReportProvider) { s.guest.Store(&p) }

// TestNodeEvents: one VM (one REPORT_ID) attests, then comes back with
// debug enabled under a policy that forbids it: attested, then refused and
// drift naming the VM's agent ID (its report verified, so it is that VM).
// A report from an untrusted signer names no agent.
func TestNodeEvents(t *testing.T) {
	hook := nodeeventstest.Start(t, nil)
	chain, hcl := testChain(t)
	good, debug := snptest.NewGuest(chain, 0x07), snptest.NewGuest(chain, 0x07)
	debug.Policy.Debug = true
	foreign, err := snptest.NewForeignChain(time.Now().Add(-time.Hour), snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	var vm switching
	vm.use(good)
	p := serve(t, hcl+fmt.Sprintf("policy \"prod\" { required = true }\nevent_webhook \"isolate\" { url = %q }\n", hook.URL), &vm, td, nil)
	if _, _, err := p.attest(nil); err != nil {
		t.Fatal(err)
	}
	vm.use(debug)
	if _, _, err := p.attest(nil); err == nil {
		t.Fatal("debug VM accepted")
	}
	vm.use(snptest.NewGuest(foreign, 0x07))
	if _, _, err := p.attest(nil); err == nil {
		t.Fatal("untrusted signer accepted")
	}
	events := hook.Wait(t, 4)
	if got := nodeeventstest.Types(events); got != "attested refused drift refused" {
		t.Fatalf("events %s", got)
	}
	id := "spiffe://example.org/spire/agent/sev_snp/" + strings.Repeat("07", 32)
	if events[0].Subject() != id || events[1].Subject() != id || events[2].Subject() != id || events[3].Subject() != "" {
		t.Errorf("subjects %q %q %q %q", events[0].Subject(), events[1].Subject(), events[2].Subject(), events[3].Subject())
	}
	if refused := nodeeventstest.Data(t, events[1]); refused.Attestor != "sev_snp" || refused.Reason != "policy" || !strings.Contains(refused.Error, "debug is enabled") {
		t.Errorf("refused %+v", refused)
	}
	if drift := nodeeventstest.Data(t, events[2]); strings.Join(drift.Lost, ",") != "prod" {
		t.Errorf("drift %+v", drift)
	}
	if untrusted := nodeeventstest.Data(t, events[3]); untrusted.AgentID != "" || untrusted.Reason != "signature" {
		t.Errorf("untrusted signer %+v", untrusted)
	}
}

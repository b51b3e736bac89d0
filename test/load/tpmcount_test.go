package load_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/test/load"
)

// TestTPMCommandsPerAttestation counts the TPM commands and private-key
// operations one attestation costs the node, for our agent (with a
// persisted AK, as ak_path configures, and on first use) and for the flow of
// spiffe/spire-tpm-plugin's agent (module github.com/bloomberg/spire-tpm-plugin,
// pkg/agent/agent.go): go-attestation's EKs, NewAK, then LoadAK and
// ActivateCredential on the challenge, a new AK at every attestation and no
// quote. That flow is replayed here through go-attestation v0.6.4's public
// API (the plugin pins an older release), so its counts are those of the
// calls it makes, on the library version this module uses.
func TestTPMCommandsPerAttestation(t *testing.T) {
	raw, err := os.ReadFile(load.BootLog)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log")
	if err := os.WriteFile(logPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	sim := tpmtest.Simulator(t)
	ca := tpmtest.NewCA(t, "count CA")
	tpmtest.CertifyEKs(t, sim, ca, "id:49465800", "SLB9670", "id:00070055")
	tpmtest.ReplayEventLog(t, sim, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
	count := load.NewCountingTPM(sim)
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Roots: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}

	ours := func(cfg attester.Config) {
		t.Helper()
		s, att, err := attester.Begin(count, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ch, session, err := v.Challenge(att)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Respond(ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := session.Verify(resp); err != nil {
			t.Fatal(err)
		}
	}
	cfg := attester.Config{EventLogPath: logPath, AKPath: filepath.Join(dir, "ak.json")}
	count.Take()
	ours(cfg)
	first, _ := count.Take()
	const runs = 3
	for range runs {
		ours(cfg)
	}
	persisted, _ := count.Take()

	// spiffe/spire-tpm-plugin's agent flow.
	tpm, err := attest.OpenTPM(&attest.OpenConfig{CommandChannel: &bufferedChannel{tpm: count}})
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	count.Take()
	for range runs {
		eks, err := tpm.EKs()
		if err != nil {
			t.Fatal(err)
		}
		var ek *attest.EK
		for i := range eks {
			if eks[i].Certificate != nil && eks[i].Certificate.PublicKeyAlgorithm == x509.RSA {
				ek = &eks[i]
			}
		}
		if ek == nil {
			t.Fatal("no RSA EK certificate")
		}
		ak, err := tpm.NewAK(nil)
		if err != nil {
			t.Fatal(err)
		}
		params := ak.AttestationParameters()
		blob, err := ak.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ak.Close(tpm)
		secret, ec, err := (&attest.ActivationParameters{EK: ek.Public, AK: params}).Generate()
		if err != nil {
			t.Fatal(err)
		}
		ak, err = tpm.LoadAK(blob)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ak.ActivateCredential(tpm, *ec)
		ak.Close(tpm)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("activate credential: %v", err)
		}
	}
	theirs, _ := count.Take()

	for _, c := range []struct {
		name   string
		counts map[uint32]int
		per    int
	}{
		{"hwattest, persisted AK (quote + boot log)", persisted, runs},
		{"hwattest, first attestation (AK created)", first, 1},
		{"spire-tpm-plugin flow (new AK, no quote)", theirs, runs},
	} {
		summary, cmds, priv := load.CommandSummary(c.counts, c.per)
		t.Logf("%s: %.1f commands, %.1f private-key operations: %s", c.name, cmds, priv, summary)
	}
	// With a persisted AK the node generates no key but the primaries it
	// re-derives, and signs exactly one quote.
	if persisted[0x153] != 0 || persisted[0x191] != 0 {
		t.Errorf("persisted AK: %d Create, %d CreateLoaded, want none", persisted[0x153], persisted[0x191])
	}
	if persisted[0x158] != runs || persisted[0x147] != runs {
		t.Errorf("persisted AK: %d quotes, %d activations for %d attestations", persisted[0x158], persisted[0x147], runs)
	}
	if theirs[0x153]+theirs[0x191] < runs {
		t.Errorf("spire-tpm-plugin flow: %d AK creations for %d attestations", theirs[0x153]+theirs[0x191], runs)
	}
}

// bufferedChannel is go-attestation's command channel over a transport:
// each Read returns the whole response (go-attestation needs that).
type bufferedChannel struct {
	tpm transport.TPM
	rsp []byte
}

func (c *bufferedChannel) Write(p []byte) (int, error) {
	rsp, err := c.tpm.Send(p)
	if err != nil {
		return 0, err
	}
	c.rsp = rsp
	return len(p), nil
}

func (c *bufferedChannel) Read(p []byte) (int, error) {
	n := copy(p, c.rsp)
	c.rsp = c.rsp[n:]
	return n, nil
}

func (c *bufferedChannel) Close() error                    { return nil }
func (c *bufferedChannel) MeasurementLog() ([]byte, error) { return nil, nil }

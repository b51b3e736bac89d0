package integration_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// bootLog is a real UEFI boot event log (secure boot on) that nodes replay
// into their swtpm's PCRs 0-7 as firmware would, so that quotes and the log
// agree.
const bootLog = "../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin"

// node is a machine with a software TPM (real EK chain from swtpm_localca)
// whose PCRs hold a measured boot.
type node struct {
	tpm     *swtpmtest.TPM
	dir     string
	logPath string
	ekHash  string
}

func newNode(t *testing.T, opts swtpmtest.Options) *node {
	t.Helper()
	n := &node{tpm: swtpmtest.Start(t, opts), dir: harness.Dir(t)}
	raw, err := os.ReadFile(bootLog)
	if err != nil {
		t.Fatal(err)
	}
	n.logPath = harness.WriteFile(t, n.dir, "binary_bios_measurements", string(raw))
	n.replayBoot(t)
	n.ekHash = ekHash(t, n)
	return n
}

// replayBoot extends the boot log's measurements into the TPM's PCRs, as
// firmware does at every boot.
func (n *node) replayBoot(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(n.logPath)
	if err != nil {
		t.Fatal(err)
	}
	n.withTPM(t, func(tpm transport.TPM) {
		tpmtest.ReplayEventLog(t, tpm, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
	})
}

// withTPM opens the node's TPM for fn and closes it again (swtpm serves
// one connection at a time).
func (n *node) withTPM(t *testing.T, fn func(transport.TPM)) {
	t.Helper()
	var tpm transport.TPMCloser
	if err := harness.Eventually(20*time.Second, func() (err error) {
		tpm, err = attester.Open(n.tpm.Addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	fn(tpm)
}

// agentConfig is the agent plugin's configuration for this node, sending
// its boot log.
func (n *node) agentConfig() string { return n.agentConfigLog(n.logPath) }

// agentConfigLog is agentConfig with another event_log_path ("-": none).
func (n *node) agentConfigLog(path string) string {
	return fmt.Sprintf("tpm = %q\nevent_log_path = %q\nak_path = %q", n.tpm.Addr, path, filepath.Join(n.dir, "ak.json"))
}

// caConfig trusts the node's EK CA chain.
func (n *node) caConfig() string {
	return fmt.Sprintf("ek_ca_paths = [%q, %q]", n.tpm.RootCAPath, n.tpm.IssuerCAPath)
}

func (n *node) agentID() string {
	return "spiffe://" + harness.TrustDomain + "/spire/agent/tpm/" + n.ekHash
}

// pcr reads one sha256 PCR of the node's TPM.
func (n *node) pcr(t *testing.T, i int) []byte {
	t.Helper()
	var v []byte
	n.withTPM(t, func(tpm transport.TPM) {
		vals, err := attester.ReadPCRs(tpm, tpmquote.PCRSelection{tpmquote.SHA256: {i}})
		if err != nil {
			t.Fatal(err)
		}
		v = vals[tpmquote.SHA256][i]
	})
	return v
}

// ekHashes returns the hash spiffe/spire-tpm-plugin puts in the agent ID:
// the SHA-256 of the PKIX DER public key of the RSA EK (its certificate's key
// when there is one).
func ekHash(t *testing.T, n *node) string {
	t.Helper()
	var hash string
	n.withTPM(t, func(tpm transport.TPM) {
		s, _, err := attester.Begin(tpm, attester.Config{EventLogPath: "-"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		key := s.EK().Key
		if c := s.EK().Certificate; c != nil {
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				t.Fatal(err)
			}
			key = cert.PublicKey
		}
		hash = keyHash(t, key)
	})
	return hash
}

func keyHash(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// fetchSVIDs fetches an X509-SVID and a JWT-SVID for spiffeID through the
// agent's workload API, as a workload would, waiting for the entry to reach
// the agent.
func fetchSVIDs(t *testing.T, a *harness.Agent, spiffeID string) (*x509svid.SVID, *jwtsvid.SVID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		x   *x509svid.SVID
		jwt *jwtsvid.SVID
	)
	addr := workloadapi.WithAddr("unix://" + a.Socket)
	err := harness.Eventually(45*time.Second, func() (err error) {
		x, err = workloadapi.FetchX509SVID(ctx, addr)
		if err == nil && x.ID.String() != spiffeID {
			err = fmt.Errorf("X509-SVID for %s, want %s", x.ID, spiffeID)
		}
		return err
	})
	if err != nil {
		t.Fatalf("fetch X509-SVID: %v", err)
	}
	jwt, err = workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: "hwattest-test"}, addr)
	if err != nil {
		t.Fatalf("fetch JWT-SVID: %v", err)
	}
	if jwt.ID.String() != spiffeID {
		t.Fatalf("JWT-SVID for %s, want %s", jwt.ID, spiffeID)
	}
	return x, jwt
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func hasAll(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	joined := "\n" + strings.Join(got, "\n") + "\n"
	for _, w := range want {
		if !strings.Contains(joined, "\n"+w+"\n") {
			t.Errorf("%s lack %q; have:\n%s", what, w, strings.Join(got, "\n"))
		}
	}
}

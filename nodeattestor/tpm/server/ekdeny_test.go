package server_test

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"testing"

	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// machine is the simulator with certified RSA and ECC EKs, as a vendor ships
// a TPM, and what `hwattest ek` shows of each EK.
type machine struct {
	addr, caPath string
	hash, certID map[string]string // by algorithm
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	addr, caPath, _ := certifiedSimulator(t, "sim EK CA")
	m := &machine{addr: addr, caPath: caPath, hash: map[string]string{}, certID: map[string]string{}}
	dev, err := attester.Open(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	for _, alg := range []attester.KeyAlgorithm{attester.RSA, attester.ECC} {
		ek, err := attester.ReadEK(dev, alg)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(ek.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		m.certID[string(alg)] = tpm.EKCertificateID(cert)
	}
	return m
}

func (m *machine) agentHCL(alg string) string {
	return fmt.Sprintf("tpm = %q\nek_algorithm = %q\nevent_log_path = \"-\"", m.addr, alg)
}

// attestWith attests the machine's EK of algorithm alg to a server with the
// extra configuration lines.
func (m *machine) attestWith(t *testing.T, alg, serverHCL string) (*serverv1.AgentAttributes, error) {
	t.Helper()
	sc, ac := servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q]\n%s", m.caPath, serverHCL), m.agentHCL(alg))
	return attest(t, sc, ac)
}

func wantDenied(t *testing.T, err error, msg string) {
	t.Helper()
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), msg) {
		t.Fatalf("err = %v, want PermissionDenied with %q", err, msg)
	}
}

// TestEKAlgorithms: by default only the RSA EK is accepted, the EK whose hash
// spire-tpm-plugin put in the agent ID, so that a TPM is one agent ID and
// one deny_ek_hashes entry revokes it. Another algorithm is refused with the
// key that would accept it.
func TestEKAlgorithms(t *testing.T) {
	m := newMachine(t)
	for _, tc := range []struct {
		config, alg string
		want        string // "" accepted
	}{
		{"", "rsa", ""},
		{"", "ecc", `ECC EK not accepted: the server's ek_algorithms is ["rsa"] (add "ecc" to it to accept ECC EKs)`},
		{`ek_algorithms = ["rsa"]`, "ecc", `ECC EK not accepted`},
		{`ek_algorithms = ["ecc", "rsa"]`, "ecc", ""},
		{`ek_algorithms = ["ecc", "rsa", "ecc"]`, "rsa", ""},
		{`ek_algorithms = ["ecc"]`, "ecc", ""},
		{`ek_algorithms = ["ecc"]`, "rsa", `RSA EK not accepted: the server's ek_algorithms is ["ecc"] (add "rsa" to it to accept RSA EKs)`},
	} {
		t.Run(tc.config+"/"+tc.alg, func(t *testing.T) {
			attrs, err := m.attestWith(t, tc.alg, tc.config)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(attrs.SpiffeId, "/spire/agent/tpm/"+attrHash(attrs)) {
					t.Errorf("agent ID %s", attrs.SpiffeId)
				}
				m.hash[tc.alg] = attrHash(attrs)
				return
			}
			wantDenied(t, err, tc.want)
		})
	}
	if m.hash["rsa"] == "" || m.hash["ecc"] == "" || m.hash["rsa"] == m.hash["ecc"] {
		t.Fatalf("EK hashes %v: want two different ones", m.hash)
	}
}

func attrHash(attrs *serverv1.AgentAttributes) string {
	return attrs.SpiffeId[strings.LastIndex(attrs.SpiffeId, "/")+1:]
}

// TestDenyEveryEK: with both algorithms accepted, a machine has two agent
// IDs; denying one EK leaves the other in, denying every EK `hwattest ek`
// lists (by hash or by certificate) keeps the machine out.
func TestDenyEveryEK(t *testing.T) {
	m := newMachine(t)
	const both = `ek_algorithms = ["rsa", "ecc"]`
	for _, alg := range []string{"rsa", "ecc"} {
		attrs, err := m.attestWith(t, alg, both)
		if err != nil {
			t.Fatal(err)
		}
		m.hash[alg] = attrHash(attrs)
	}
	t.Run("one hash denied", func(t *testing.T) {
		deny := fmt.Sprintf("%s\ndeny_ek_hashes = [%q]", both, m.hash["rsa"])
		_, err := m.attestWith(t, "rsa", deny)
		wantDenied(t, err, "EK "+m.hash["rsa"]+" is denied")
		// The reason the docs say to deny every EK.
		if _, err := m.attestWith(t, "ecc", deny); err != nil {
			t.Fatalf("the other EK: %v", err)
		}
	})
	t.Run("every hash denied", func(t *testing.T) {
		deny := fmt.Sprintf("%s\ndeny_ek_hashes = [%q, %q]", both, m.hash["rsa"], strings.ToUpper(m.hash["ecc"]))
		for _, alg := range []string{"rsa", "ecc"} {
			_, err := m.attestWith(t, alg, deny)
			wantDenied(t, err, "EK "+m.hash[alg]+" is denied")
		}
	})
	t.Run("every certificate denied", func(t *testing.T) {
		deny := fmt.Sprintf("%s\ndeny_ek_certificates = [%q, %q]", both, m.certID["rsa"], m.certID["ecc"])
		for _, alg := range []string{"rsa", "ecc"} {
			_, err := m.attestWith(t, alg, deny)
			wantDenied(t, err, "EK "+m.hash[alg]+" with certificate "+m.certID[alg]+" is denied")
		}
	})
}

// TestDenyEKCertificate: an EK certificate named by issuer and serial is
// refused, in any spelling of the serial an operator may copy (openssl's
// colon-separated upper case, leading zeros); another serial or issuer is
// not.
func TestDenyEKCertificate(t *testing.T) {
	m := newMachine(t)
	id := m.certID["rsa"]
	i := strings.LastIndex(id, "/")
	issuer, serialHex := id[:i], id[i+1:]
	if issuer != "CN=sim EK CA,O=hwattest test" {
		t.Fatalf("certificate ID %q", id)
	}
	serial, _ := new(big.Int).SetString(serialHex, 16)
	b := append([]byte{0}, serial.Bytes()...)
	var colons []string
	for _, c := range b {
		colons = append(colons, fmt.Sprintf("%02X", c))
	}
	for _, entry := range []string{id, issuer + "/" + strings.ToUpper(serialHex), issuer + "/" + strings.Join(colons, ":"), issuer + "/000" + serialHex} {
		t.Run(entry, func(t *testing.T) {
			_, err := m.attestWith(t, "rsa", fmt.Sprintf("deny_ek_certificates = [%q]", entry))
			wantDenied(t, err, "with certificate "+id+" is denied")
		})
	}
	other := new(big.Int).Add(serial, big.NewInt(1)).Text(16)
	for _, entry := range []string{issuer + "/" + other, "CN=other CA,O=hwattest test/" + serialHex, "CN=sim EK CA/" + serialHex} {
		t.Run("not "+entry, func(t *testing.T) {
			if _, err := m.attestWith(t, "rsa", fmt.Sprintf("deny_ek_certificates = [%q]", entry)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

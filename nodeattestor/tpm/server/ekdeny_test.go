package server_test

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/tpmtest"
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

// TestEKAlgorithms: by default only the RSA 2048 EK is accepted, the EK whose
// hash spire-tpm-plugin puts in the agent ID, so that a TPM is one agent ID
// and one deny_ek_hashes entry revokes it. Another key type is refused with
// the value that would accept it.
func TestEKAlgorithms(t *testing.T) {
	m := newMachine(t)
	for _, tc := range []struct {
		config, alg string
		want        string // "" accepted
	}{
		{"", "rsa", ""},
		{"", "ecc", `ecc-p256 EK not accepted: the server's ek_algorithms is ["rsa-2048"] (add "ecc-p256" to accept it)`},
		{`ek_algorithms = ["rsa"]`, "ecc", `ecc-p256 EK not accepted: the server's ek_algorithms is ["rsa-2048", "rsa-3072", "rsa-4096"]`},
		{`ek_algorithms = ["ecc-p384", "rsa-2048"]`, "ecc", `ecc-p256 EK not accepted: the server's ek_algorithms is ["rsa-2048", "ecc-p384"]`},
		{`ek_algorithms = ["rsa-3072", "rsa-4096"]`, "rsa", `rsa-2048 EK not accepted`},
		{`ek_algorithms = ["ecc", "rsa"]`, "ecc", ""},
		{`ek_algorithms = ["ecc", "rsa", "ecc"]`, "rsa", ""},
		{`ek_algorithms = ["ecc-p256"]`, "ecc", ""},
		{`ek_algorithms = ["ecc-p256"]`, "rsa", `rsa-2048 EK not accepted: the server's ek_algorithms is ["ecc-p256"] (add "rsa-2048" to accept it)`},
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

// TestHighRangeEKRefusedByDefault: a TPM may hold certified EKs of further
// key types in the TCG high range (here ECC P-384 at H-3, persisted, as
// swtpm and newer TPMs have it); each is another agent ID, and ek_algorithms
// names key types with their size, so accepting "ecc-p256" does not accept
// it.
func TestHighRangeEKRefusedByDefault(t *testing.T) {
	sim := tpmtest.Simulator(t)
	ca := tpmtest.NewCA(t, "sim EK CA")
	tpmtest.WriteNV(t, sim, 0x01c00002, ca.IssueEK(t, tpmtest.EKKey(t, sim, tpm2.RSAEKTemplate), "id:494E5443", "PTT", "id:00020008"))
	tmpl := tpm2.ECCEKTemplate
	tmpl.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{
			Algorithm: tpm2.TPMAlgAES,
			KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
			Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
		},
		CurveID: tpm2.TPMECCNistP384,
	})
	tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{})
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(tmpl)}.Execute(sim)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	key, err := tpm2.Pub(*pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (tpm2.EvictControl{
		Auth:             tpm2.TPMRHOwner,
		ObjectHandle:     tpm2.NamedHandle{Handle: rsp.ObjectHandle, Name: rsp.Name},
		PersistentHandle: 0x81010016,
	}).Execute(sim); err != nil {
		t.Fatal(err)
	}
	tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}.Execute(sim)
	tpmtest.WriteNV(t, sim, 0x01c00016, ca.IssueEK(t, key, "id:494E5443", "PTT", "id:00020008"))
	m := &machine{addr: tpmtest.ServeSimulator(t, sim), caPath: ca.WritePEM(t)}

	for _, config := range []string{"", `ek_algorithms = ["rsa-2048", "ecc-p256"]`} {
		_, err := m.attestWith(t, "ecc", config)
		wantDenied(t, err, `ecc-p384 EK not accepted`)
	}
	for _, config := range []string{`ek_algorithms = ["rsa", "ecc"]`, `ek_algorithms = ["ecc-p384"]`} {
		if _, err := m.attestWith(t, "ecc", config); err != nil {
			t.Fatalf("%s: %v", config, err)
		}
	}
	if _, err := m.attestWith(t, "rsa", ""); err != nil {
		t.Fatal(err)
	}
}

package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-tpm/tpm2"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// gceLeaf reads a real GCE vTPM certificate (testdata/gce, from
// go-tpm-tools) and returns its DER and a TPMT_PUBLIC of the TCG EK
// template holding its key, as a GCE vTPM's EK public area does.
func gceLeaf(t *testing.T, name string) (der, ekPublic []byte) {
	t.Helper()
	b, err := os.ReadFile("testdata/gce/" + name + ".pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		// Go refuses the TCG SAN as an unhandled critical extension only at
		// Verify; parsing must work.
		t.Fatal(err)
	}
	var pub tpm2.TPMTPublic
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		pub = tpm2.RSAEKTemplate
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.Bytes()})
	case *ecdsa.PublicKey:
		pub = tpm2.ECCEKTemplate
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: k.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: k.Y.FillBytes(make([]byte, 32))},
		})
	default:
		t.Fatalf("%s: %T", name, cert.PublicKey)
	}
	return block.Bytes, tpm2.Marshal(pub)
}

// challengeFor sends the server plugin a real attestation from the
// simulator (its AK) whose EK is replaced by a GCE vTPM's certified EK, and
// returns whether the server answered with a credential-activation challenge
// (the EK was accepted) or the refusal. The GCE vTPM's EK private key exists
// only in Google's hosts, so nothing can answer the challenge: acceptance of
// the EK certificate is what this shows.
func challengeFor(t *testing.T, serverHCL, leaf string) error {
	t.Helper()
	addr, _, _ := certifiedSimulator(t, "sim EK CA")
	sc, ac := servePlugins(t, serverHCL, fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	as, err := ac.AidAttestation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := as.Recv()
	if err != nil {
		t.Fatal(err)
	}
	att, err := tpmquote.DecodeAttestation(msg.GetPayload())
	if err != nil {
		t.Fatal(err)
	}
	att.EKCertificate, att.EKPublic = gceLeaf(t, leaf)
	payload, err := att.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := sc.Attest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: payload}}); err != nil {
		t.Fatal(err)
	}
	resp, err := ss.Recv()
	if err != nil {
		return err
	}
	if len(resp.GetChallenge()) == 0 {
		t.Fatalf("neither a challenge nor an error: %v", resp)
	}
	return nil
}

// TestGCEvTPMEKs: real GCE vTPM EK certificates through the tpm server
// plugin with bundled_ek_cas = true. The legacy CA's EK leaves (issued by an
// intermediate go-tpm-tools' server.GceEKIntermediates does not export) are
// accepted; an AK certificate of the same CA is refused by the EK profile.
// The newer EK/AK CA's leaves carry no TPM subject alternative name, so the
// EK profile check (pkg/tpmquote checkEKProfile) refuses them: see
// docs/nodeattestor-tpm.md, "Cloud vTPMs".
func TestGCEvTPMEKs(t *testing.T) {
	for _, tc := range []struct {
		leaf, algorithms, want string
	}{
		{"uca_tpm_rsa_enc_cert", `["rsa-2048"]`, ""},
		{"uca_tpm_ecc_enc_cert", `["ecc-p256"]`, ""},
		{"uca_tpm_rsa_sign_cert", `["rsa-2048"]`, "tpmquote: ek certificate: key usage of an RSA EK certificate lacks keyEncipherment"},
		{"pca_tpm_rsa_enc_cert", `["rsa-2048"]`, "tpmquote: ek certificate: no TPM subject alternative name (manufacturer, model, version): not an EK certificate"},
		{"pca_tpm_ecc_enc_cert", `["ecc-p256"]`, "tpmquote: ek certificate: no TPM subject alternative name (manufacturer, model, version): not an EK certificate"},
	} {
		t.Run(tc.leaf, func(t *testing.T) {
			err := challengeFor(t, "bundled_ek_cas = true\nek_algorithms = "+tc.algorithms, tc.leaf)
			if got := status.Convert(err).Message(); (err == nil) != (tc.want == "") || got != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("without the bundled CAs", func(t *testing.T) {
		caPath := tpmtest.NewCA(t, "other CA").WritePEM(t)
		err := challengeFor(t, fmt.Sprintf("ek_ca_paths = [%q]", caPath), "uca_tpm_rsa_enc_cert")
		if want := "tpmquote: ek certificate: x509: certificate signed by unknown authority"; status.Convert(err).Message() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	})
}

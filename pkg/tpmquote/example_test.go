package tpmquote_test

import (
	"crypto/x509"
	"fmt"
	"log"

	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// Example shows one attestation: the attester on the node and the verifier on
// the server, with the wire format between them. It needs a TPM, so it is
// compiled but not run.
func Example() {
	var roots *x509.CertPool // the TPM vendors' EK CA roots

	// Node: open the TPM and begin.
	tpm, err := attester.Open("/dev/tpmrm0")
	if err != nil {
		log.Fatal(err)
	}
	defer tpm.Close()
	node, att, err := attester.Begin(tpm, attester.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()
	payload, _ := att.Marshal()

	// Server: verify EK and AK, answer with a challenge.
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Roots: roots}})
	if err != nil {
		log.Fatal(err)
	}
	got, err := tpmquote.DecodeAttestation(payload)
	if err != nil {
		log.Fatal(err)
	}
	ch, session, err := v.Challenge(got)
	if err != nil {
		log.Fatal(err)
	}

	// Node: activate the credential, quote, attach the logs.
	resp, err := node.Respond(ch)
	if err != nil {
		log.Fatal(err)
	}

	// Server: verify the response.
	res, err := session.Verify(resp)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, res.EKHash, res.Boot.SecureBoot.Enabled)
}

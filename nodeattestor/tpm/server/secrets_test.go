package server_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	agentv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// exchange is one attestation relayed as SPIRE relays it, with the
// challenge and response it carried.
type exchange struct {
	challenge *tpmquote.Challenge
	response  *tpmquote.Response
	err       error
}

// relay runs one attestation and records its challenge and response;
// tamper, when not nil, changes the agent's response before the server sees
// it.
func relay(t *testing.T, sc *serverv1.NodeAttestorPluginClient, ac *agentv1.NodeAttestorPluginClient, tamper func([]byte) []byte) exchange {
	t.Helper()
	var x exchange
	_, x.err = relayAttestation(sc, ac, func(challenge, response []byte) []byte {
		var err error
		if x.challenge, err = tpmquote.DecodeChallenge(challenge); err != nil {
			t.Fatal(err)
		}
		if x.response, err = tpmquote.DecodeResponse(response); err != nil {
			t.Fatal(err)
		}
		if tamper != nil {
			return tamper(response)
		}
		return response
	})
	if x.challenge == nil {
		t.Fatalf("no challenge: %v", x.err)
	}
	return x
}

// encodings are the forms a byte string could take in a log line.
func encodings(b []byte) []string {
	return []string{
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		fmt.Sprint(b), // []byte printed with %v
	}
}

// TestNoSecretsInLogs: no log line of either plugin (at trace level) and no
// error returned to SPIRE carries the nonce, the credential blob, the
// encrypted seed or the activated secret, in any usual encoding, whether the
// attestation succeeds, fails credential activation, or fails a required
// policy.
func TestNoSecretsInLogs(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	var logs logbuf.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: &logs})
	cas := fmt.Sprintf(`ek_ca_paths = [%q, %q]`, sw.RootCAPath, sw.IssuerCAPath)
	agentHCL := fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr)
	wrongPCR7 := `policy "pinned" {
  required = %v
  pcrs     = ["sha256:7:` + strings.Repeat("ab", 32) + `"]
}`
	var xs []exchange

	sc, ac := servePluginsLogged(t, cas+"\n"+fmt.Sprintf(wrongPCR7, false), agentHCL, logger)
	ok := relay(t, sc, ac, nil)
	if ok.err != nil {
		t.Fatalf("attestation: %v", ok.err)
	}
	xs = append(xs, ok)
	badSecret := relay(t, sc, ac, func(b []byte) []byte {
		r, err := tpmquote.DecodeResponse(b)
		if err != nil {
			t.Fatal(err)
		}
		r.Secret[0] ^= 1
		out, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
	if badSecret.err == nil || !strings.Contains(badSecret.err.Error(), "credential activation failed") {
		t.Fatalf("tampered secret: %v", badSecret.err)
	}
	xs = append(xs, badSecret)

	sc, ac = servePluginsLogged(t, cas+"\n"+fmt.Sprintf(wrongPCR7, true), agentHCL, logger)
	refused := relay(t, sc, ac, nil)
	if refused.err == nil || !strings.Contains(refused.err.Error(), "sha256 PCR 7 is") {
		t.Fatalf("required policy: %v", refused.err)
	}
	xs = append(xs, refused)

	text := logs.String()
	for _, want := range []string{"TPM attestation succeeded", "TPM attestation refused", "reason=activation_failed", "reason=policy"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the logs lack %q, so they were not captured as expected:\n%s", want, text)
		}
	}
	for i, x := range xs {
		for what, secret := range map[string][]byte{
			"nonce": x.challenge.Nonce, "credential blob": x.challenge.Credential,
			"encrypted seed": x.challenge.EncryptedSecret, "activated secret": x.response.Secret,
		} {
			if len(secret) < 8 {
				t.Fatalf("exchange %d: %s of %d bytes", i, what, len(secret))
			}
			for _, enc := range encodings(secret) {
				if strings.Contains(text, enc) {
					t.Errorf("exchange %d: the logs hold the %s (%.16s...)", i, what, enc)
				}
				if x.err != nil && strings.Contains(x.err.Error(), enc) {
					t.Errorf("exchange %d: the error to SPIRE holds the %s", i, what)
				}
			}
		}
	}
}

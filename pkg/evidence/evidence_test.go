package evidence_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/hwattest/hwattest/internal/depcheck"
	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/evidence/capture"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

const agileLog = "../tpmquote/testdata/eventlogs/crypto_agile_eventlog.bin"

// captured returns an evidence file made on the simulator (with the
// crypto-agile boot log replayed when withLog), encoded, and the EK CA pool.
func captured(t testing.TB, withLog bool) ([]byte, tpmquote.EKPolicy) {
	t.Helper()
	sim := tpmtest.Simulator(t)
	ca := tpmtest.NewCA(t, "evidence test EK CA")
	tpmtest.CertifyEKs(t, sim, ca, "id:49465800", "SLB9670", "id:00070055")
	opts := capture.Options{EventLogPath: "-", Roots: ca.Pool(), Host: "node-a", Address: "simulator", Tool: "evidence test"}
	if withLog {
		raw, err := os.ReadFile(agileLog)
		if err != nil {
			t.Fatal(err)
		}
		tpmtest.ReplayEventLog(t, sim, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
		opts.EventLogPath = agileLog
	}
	f, _, err := capture.Evidence(sim, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b, tpmquote.EKPolicy{Roots: ca.Pool()}
}

func TestDecodeAndVerify(t *testing.T) {
	b, ek := captured(t, true)
	f, err := evidence.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Verify(evidence.Options{EK: ek})
	if err != nil {
		t.Fatal(err)
	}
	if res.Boot == nil || res.Boot.Events == 0 || !res.EKCertVerified || res.Status != tpmquote.StatusWarning {
		t.Errorf("result %+v", res)
	}
	again, err := f.Encode()
	if err != nil || string(again) != string(b) {
		t.Errorf("re-encoded file differs: %v", err)
	}
	_, err = f.Verify(evidence.Options{})
	if want := "evidence: tpmquote: ek certificate: no trusted EK CA configured"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if tpmquote.ReasonOf(err) != tpmquote.ReasonEKUntrusted {
		t.Errorf("reason %q", tpmquote.ReasonOf(err))
	}
}

// edit decodes b as a JSON object, applies fn to it and encodes it again.
func edit(t *testing.T, b []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeRefusals(t *testing.T) {
	b, _ := captured(t, false)
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "evidence: empty file"},
		{"too large", make([]byte, evidence.MaxSize+1), "evidence: 8388609 bytes exceed the limit of 8388608"},
		{"not JSON", []byte("PCR 7 is fine"), "evidence: invalid character 'P' looking for beginning of value"},
		{"trailing data", append(append([]byte{}, b...), "{}"...), "evidence: trailing data after the JSON object"},
		{"unknown field", edit(t, b, func(m map[string]any) { m["live"] = true }), `evidence: json: unknown field "live"`},
		{"unknown attestation field", edit(t, b, func(m map[string]any) { m["attestation"].(map[string]any)["x"] = 1 }),
			`tpmquote: attestation: json: unknown field "x"`},
		{"format", edit(t, b, func(m map[string]any) { m["format"] = "keylime" }), `evidence: format "keylime" is not "hwattest-evidence"`},
		{"version", edit(t, b, func(m map[string]any) { m["version"] = 2 }), "evidence: unsupported version 2 (want 1)"},
		{"no attestation", edit(t, b, func(m map[string]any) { delete(m, "attestation") }), "evidence: attestation: missing"},
		{"no capture time", edit(t, b, func(m map[string]any) { m["captured"] = "0001-01-01T00:00:00Z" }), "evidence: captured: missing"},
		{"nonce", edit(t, b, func(m map[string]any) { m["nonce"] = "AAAA" }), "evidence: nonce is 3 bytes, want 32"},
		{"no quote", edit(t, b, func(m map[string]any) { delete(m, "quote") }), "evidence: quote: missing"},
		{"no selection", edit(t, b, func(m map[string]any) { delete(m, "pcr_selection") }), "evidence: pcr_selection: tpmquote: empty PCR selection"},
		{"PCR outside the selection", edit(t, b, func(m map[string]any) {
			m["pcrs"].(map[string]any)["sha256"].(map[string]any)["9"] = strings.Repeat("A", 43) + "="
		}), "evidence: pcrs: sha256 PCR 9 is not in pcr_selection"},
		{"PCR value missing", edit(t, b, func(m map[string]any) { delete(m["pcrs"].(map[string]any)["sha256"].(map[string]any), "7") }),
			"evidence: pcrs: not every PCR in pcr_selection has a value"},
		{"PCR value size", edit(t, b, func(m map[string]any) { m["pcrs"].(map[string]any)["sha256"].(map[string]any)["7"] = "AAAA" }),
			"evidence: pcrs: sha256 PCR 7 is 3 bytes, want 32"},
		{"host", edit(t, b, func(m map[string]any) { m["host"] = strings.Repeat("h", 256) }), "evidence: host: 256 bytes exceed the limit of 255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := evidence.Decode(tc.in)
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "evidence: ") {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestVerifyRefusals: evidence edited after capture does not verify.
func TestVerifyRefusals(t *testing.T) {
	b, ek := captured(t, false)
	for _, tc := range []struct {
		name   string
		edit   func(m map[string]any)
		reason tpmquote.Reason
		want   string
	}{
		{"another nonce", func(m map[string]any) { m["nonce"] = strings.Repeat("A", 43) + "=" },
			tpmquote.ReasonQuote, "evidence: tpmquote: quote: nonce does not match the challenge"},
		{"another PCR 7", func(m map[string]any) {
			m["pcrs"].(map[string]any)["sha256"].(map[string]any)["7"] = strings.Repeat("B", 43) + "="
		}, tpmquote.ReasonQuote, "evidence: tpmquote: quote: PCR values do not match the quoted PCR digest"},
		{"a wider selection", func(m map[string]any) {
			m["pcr_selection"].(map[string]any)["sha256"] = []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
			m["pcrs"].(map[string]any)["sha256"].(map[string]any)["8"] = strings.Repeat("A", 43) + "="
		}, tpmquote.ReasonQuote, "evidence: tpmquote: quote: PCR selection sha256:0,1,2,3,4,5,6,7 differs from the requested sha256:0,1,2,3,4,5,6,7,8"},
		{"a boot log added", func(m map[string]any) {
			raw, _ := os.ReadFile(agileLog)
			m["event_log"] = raw
		}, tpmquote.ReasonEventLog, "evidence: tpmquote: event log does not replay to the quoted sha256 PCRs [0 1 2 3 4 5 6 7]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := evidence.Decode(edit(t, b, tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Verify(evidence.Options{EK: ek})
			if tpmquote.ReasonOf(err) != tc.reason || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v (%s), want %s %q", err, tpmquote.ReasonOf(err), tc.reason, tc.want)
			}
		})
	}
}

// TestLinksNoDeviceCode: reading and verifying evidence files never links
// the attester, a TPM transport or cgo.
func TestLinksNoDeviceCode(t *testing.T) {
	depcheck.Forbid(t, "github.com/hwattest/hwattest/pkg/evidence",
		"github.com/hwattest/hwattest/pkg/tpmquote/attester",
		"github.com/hwattest/hwattest/pkg/evidence/capture",
		"github.com/google/go-tpm/tpm2/transport/",
		"runtime/cgo")
}

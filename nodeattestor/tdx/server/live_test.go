package server_test

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/tdxtest"
	"github.com/hwattest/hwattest/nodeattestor/tdx"
)

// liveTD makes a test chain (created now, so it never expires in a test),
// writes its root where intel_root_path can name it, and returns a guest
// of it and the server HCL line trusting that root.
func liveTD(t *testing.T) (*tdxtest.Guest, string) {
	t.Helper()
	chain, err := tdxtest.NewChain(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := tdxtest.NewGuest(chain)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, chain.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return g, fmt.Sprintf("intel_root_path = %q\n", root)
}

func mrtdPolicy(mrtd string) string {
	return fmt.Sprintf(`policy "image" {
  required = true
  mrtds    = [%q]
}`, mrtd)
}

// TestLiveQuote: the product server plugin (nonces from crypto/rand, the
// test root given through intel_root_path) and the agent plugin over a
// test-only TD (internal/tdxtest) through the go-plugin boundary. The agent
// keeps its agent ID across re-attestations.
func TestLiveQuote(t *testing.T) {
	g, rootHCL := liveTD(t)
	mrtd := hex.EncodeToString(g.MRTD[:])
	p := serveGuest(t, rootHCL+mrtdPolicy(mrtd), "", td, g, nil)
	ids := map[string]bool{}
	for range 3 {
		attrs, err := p.attest(nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[attrs.SpiffeId] = true
		for _, want := range []string{"mrtd:" + mrtd, "debug:disabled", "policy:image", "rtmr1:" + strings.Repeat("01", 48)} {
			if !slices.Contains(attrs.SelectorValues, want) {
				t.Errorf("selector %s missing: %v", want, attrs.SelectorValues)
			}
		}
		if !attrs.CanReattest {
			t.Error("CanReattest false")
		}
	}
	if len(ids) != 1 {
		t.Errorf("one agent, several IDs: %v", ids)
	}
}

// TestLiveQuoteRefusals: each refusal with live nonces, with its exact
// status.
func TestLiveQuoteRefusals(t *testing.T) {
	g, rootHCL := liveTD(t)
	mrtd := hex.EncodeToString(g.MRTD[:])
	debug, _ := liveTD(t)
	debug.Chain = g.Chain
	debug.TDAttributes[0] |= 1
	foreign, _ := liveTD(t)
	nonceErr := "tdxquote: reportdata: the report does not carry this attestation's nonce (replayed or not made for this challenge)"

	t.Run("replayed", func(t *testing.T) {
		p := serveGuest(t, rootHCL, "", td, g, nil)
		var first []byte
		if _, err := p.attest(func(r *tdx.Response) { first = r.Quote }); err != nil {
			t.Fatal(err)
		}
		_, err := p.attest(func(r *tdx.Response) { r.Quote = first })
		if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != nonceErr {
			t.Errorf("got %v: %s", st.Code(), st.Message())
		}
	})

	for _, tc := range []struct {
		name    string
		hcl     string
		agentTD string
		guest   *tdxtest.Guest
		edit    func(*tdx.Response)
		code    codes.Code
		msg     string
	}{
		{name: "a quote made for another nonce", guest: g, edit: func(r *tdx.Response) {
			q, err := g.GetRawQuote([64]byte{1})
			if err != nil {
				t.Fatal(err)
			}
			r.Quote = q
		}, code: codes.PermissionDenied, msg: nonceErr},
		{name: "another trust domain", agentTD: "other.example", guest: g, code: codes.PermissionDenied,
			msg: "tdxquote: reportdata: the report binds another trust domain or another key"},
		{name: "a changed byte", guest: g, edit: func(r *tdx.Response) { r.Quote[0x30+0x88] ^= 1 }, code: codes.PermissionDenied,
			msg: "tdxquote: quote: unable to verify message digest using quote's signature and ecdsa attestation key"},
		{name: "a chain to another root", guest: foreign, code: codes.PermissionDenied,
			msg: `tdxquote: quote: error verifying PCK Certificate: x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "Intel SGX Root CA") (true)`},
		{name: "MRTD not allowed", hcl: mrtdPolicy(strings.Repeat("ab", 48)), guest: g, code: codes.PermissionDenied,
			msg: `policy "image": mrtd ` + mrtd + ` is not allowed`},
		{name: "debug attribute set", hcl: mrtdPolicy(mrtd), guest: debug, code: codes.PermissionDenied,
			msg: `policy "image": the TD has the DEBUG attribute (the host can read its state)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agentTD := tc.agentTD
			if agentTD == "" {
				agentTD = td
			}
			_, err := serveGuest(t, rootHCL+tc.hcl, "", agentTD, tc.guest, nil).attest(tc.edit)
			if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("got %v: %s\nwant %v: %s", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}

	t.Run("debug allowed by the policy", func(t *testing.T) {
		attrs, err := serveGuest(t, rootHCL+`policy "lab" {
  allow_debug = true
}`, "", td, debug, nil).attest(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(attrs.SelectorValues, "debug:enabled") || !slices.Contains(attrs.SelectorValues, "policy:lab") {
			t.Errorf("selectors %v", attrs.SelectorValues)
		}
	})
}

// TestNoNonceInLogs: the server's log lines for a success and a refusal
// hold neither the nonce nor the REPORT_DATA.
func TestNoNonceInLogs(t *testing.T) {
	g, rootHCL := liveTD(t)
	var secrets []string
	provider := providerFunc(func(rd [64]byte) ([]byte, error) {
		secrets = append(secrets, hex.EncodeToString(rd[:32]), hex.EncodeToString(rd[:]))
		return g.GetRawQuote(rd)
	})
	var buf strings.Builder
	logger := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace, JSONFormat: true})
	p := serveGuest(t, rootHCL, "", td, provider, logger)
	if _, err := p.attest(nil); err != nil {
		t.Fatal(err)
	}
	_, _ = p.attest(func(r *tdx.Response) { r.Quote[0x30+0x88] ^= 1 })
	out := strings.ToLower(buf.String())
	if !strings.Contains(out, "tdx attestation succeeded") || !strings.Contains(out, "tdx attestation refused") {
		t.Fatalf("log lines missing:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log holds a nonce or report data: %s", s)
		}
	}
}

type providerFunc func([64]byte) ([]byte, error)

func (f providerFunc) GetRawQuote(rd [64]byte) ([]byte, error) { return f(rd) }

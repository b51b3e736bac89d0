package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"github.com/veraison/cmw"
	"github.com/veraison/ear"

	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/pkg/claims"
)

// maxSVIDFile bounds an SVID file (a PEM chain or a compact JWT).
const maxSVIDFile = 1 << 20

// Kinds of SVID.
const (
	kindX509 = "x509-svid"
	kindJWT  = "jwt-svid"
)

// jwtAlgorithms are the signature algorithms a JWT-SVID may use (the JWT-SVID
// specification, section 3); the token is parsed, not verified.
var jwtAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512,
}

func claimsCommand() *command {
	return &command{
		name:    "claims",
		summary: "print the attestation claims (RATS CMW + EAR) of an X509-SVID or a JWT-SVID",
		usage:   "claims [--json] [--bundle PATH] FILE | --socket ADDR [--audience AUD] [--spiffe-id ID]",
		help: `Prints the attestation claims that the credential composer "attestation"
put into an SVID: the EAR (draft-ietf-rats-ear) in the IETF RATS CMW
(draft-ietf-rats-msg-wrap) of the id-pe-cmw extension (1.3.6.1.5.5.7.1.35) of
an X509-SVID, or of the "cmw" claim of a JWT-SVID. For each submod (node,
workload): its status, trustworthiness vector and the selectors SPIRE required
before it issued the SVID; for the node, the agent and when it attested.

FILE is an X509-SVID (PEM, the leaf first, as spire-agent api fetch x509
writes svid.0.pem) or a JWT-SVID (compact form); - reads standard input. The
SVID's signature is NOT checked unless --bundle gives the trust bundle to
verify it against (go-spiffe's x509svid.Verify or jwtsvid.ParseAndValidate,
at the current time; a JWT-SVID's audience is not checked): without it, this
shows what an SVID says, not that a SPIRE server issued it.

--socket fetches the caller's own SVID from the SPIRE agent's workload API
(unix:///path or a path): its X509-SVIDs, or with --audience a JWT-SVID for
that audience. --spiffe-id keeps only the SVID of that SPIFFE ID.

--json prints an object per SVID: its source, SPIFFE ID and expiry, the
CMW record's media type and EAR as the SVID carries it, and the decoded
claims.

Exit code 0 when every SVID carries claims that decode (and, with --bundle,
verifies); 1 when one carries none, or claims a relying party would refuse
(malformed, unknown media type or EAR profile), or fails --bundle; 2 for an unreadable file or one that holds no SVID; 4 when
the workload API cannot be reached or gives no SVID.`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			socket := fs.String("socket", "", "fetch this process's SVIDs from the workload API at `ADDR` (unix:///path)")
			audience := fs.String("audience", "", "with --socket, fetch a JWT-SVID for `AUD` instead of the X509-SVIDs")
			bundle := fs.String("bundle", "", "verify a FILE's SVID against the trust bundle at `PATH`: SPIFFE bundle JSON (spire-server bundle show -format spiffe), or PEM CA certificates for an X509-SVID")
			spiffeID := fs.String("spiffe-id", "", "with --socket, print only the SVID of this SPIFFE `ID` (a workload may have several)")
			timeout := fs.Duration("timeout", 30*time.Second, "give up on the workload API after this `DURATION`")
			return func(e *env, args []string) error {
				var svids []svidClaims
				var err error
				switch {
				case *socket != "" && len(args) > 0:
					return usageErrorf("give FILE or --socket, not both")
				case *socket != "" && *bundle != "":
					return usageErrorf("--bundle needs FILE (the workload API's SVIDs come from the local agent)")
				case *socket != "":
					svids, err = fetchSVIDs(*socket, *audience, *spiffeID, *timeout)
				case *audience != "":
					return usageErrorf("--audience needs --socket")
				case *spiffeID != "":
					return usageErrorf("--spiffe-id needs --socket")
				case *bundle != "" && len(args) == 0:
					return usageErrorf("--bundle needs FILE")
				case len(args) == 1:
					svids, err = readSVIDFile(args[0])
					if err == nil && *bundle != "" {
						err = verifySVIDs(svids, *bundle)
					}
				case len(args) == 0:
					return usageErrorf("FILE or --socket ADDR is required")
				default:
					return usageErrorf("unexpected argument %q", args[1])
				}
				if err != nil {
					return err
				}
				if *spiffeID != "" {
					svids = slices.DeleteFunc(svids, func(s svidClaims) bool { return s.SPIFFEID != *spiffeID })
					if len(svids) == 0 {
						return serverErrorf("the workload API gave this process no SVID for %s", *spiffeID)
					}
				}
				return printClaims(e, svids, *asJSON)
			}
		},
	}
}

// svidClaims is one SVID and its decoded claims, also the --json form.
type svidClaims struct {
	Source   string    `json:"source"`
	Kind     string    `json:"kind"`
	SPIFFEID string    `json:"spiffe_id"`
	Expires  time.Time `json:"expires_at"`
	// FromWorkloadAPI is true for an SVID the local agent gave (--socket).
	// The signature of an SVID from a file is never checked here.
	FromWorkloadAPI bool `json:"from_workload_api"`
	// MediaType and EAR are the CMW record as the SVID carries it.
	MediaType string          `json:"media_type,omitempty"`
	EAR       json.RawMessage `json:"ear,omitempty"`
	// Error says why the claims are missing or refused.
	Error string `json:"error,omitempty"`
	// SignatureChecked: --bundle was given and the SVID verified against
	// it. SignatureError says why it did not.
	SignatureChecked bool   `json:"signature_checked"`
	SignatureError   string `json:"signature_error,omitempty"`

	// Claims are the decoded claims (pkg/claims' JSON form), absent when
	// refused.
	Claims *claims.Claims `json:"claims,omitempty"`

	// chain (a file's X509-SVID) or token (a file's JWT-SVID), for --bundle.
	chain []*x509.Certificate
	token string
}

func readSVIDFile(path string) ([]svidClaims, error) {
	var (
		raw []byte
		err error
	)
	if path == "-" {
		raw, err = io.ReadAll(io.LimitReader(os.Stdin, maxSVIDFile+1))
		if err == nil && len(raw) > maxSVIDFile {
			err = fmt.Errorf("standard input is larger than %d bytes", maxSVIDFile)
		}
	} else {
		raw, err = readfile.Limited(path, maxSVIDFile)
	}
	if err != nil {
		return nil, usageErrorf("%w", err)
	}
	name := path
	if path == "-" {
		name = "standard input"
	}
	return parseSVID(name, raw)
}

// parseSVID reads raw as a PEM X509-SVID or a compact JWT-SVID and decodes
// its claims; errors are input errors naming name.
func parseSVID(name string, raw []byte) ([]svidClaims, error) {
	if bytes.Contains(raw, []byte("-----BEGIN ")) {
		chain, err := chainFromPEM(raw)
		if err != nil {
			return nil, usageErrorf("%s: %w", name, err)
		}
		s, err := fromCertificate(name, chain[0], false)
		if err != nil {
			return nil, usageErrorf("%s: %w", name, err)
		}
		s.chain = chain
		return []svidClaims{s}, nil
	}
	token := strings.TrimSpace(string(raw))
	s, err := fromToken(name, token, false)
	if err != nil {
		return nil, usageErrorf("%s: %w", name, err)
	}
	s.token = token
	return []svidClaims{s}, nil
}

// maxChain bounds the certificates read from an SVID file (leaf and
// intermediates).
const maxChain = 16

// chainFromPEM returns the certificates of a PEM file in order: the SVID's
// leaf, then its intermediates.
func chainFromPEM(raw []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if len(certs) == maxChain {
			return nil, fmt.Errorf("more than %d certificates", maxChain)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE block")
	}
	return certs, nil
}

// fromCertificate decodes an X509-SVID's leaf.
func fromCertificate(source string, cert *x509.Certificate, workloadAPI bool) (svidClaims, error) {
	if cert.IsCA {
		return svidClaims{}, errors.New("not an X509-SVID: a CA certificate (an SVID's leaf comes first)")
	}
	id, err := x509svid.IDFromCert(cert)
	if err != nil {
		return svidClaims{}, fmt.Errorf("not an X509-SVID: %w", err)
	}
	s := svidClaims{Source: source, Kind: kindX509, SPIFFEID: id.String(), Expires: cert.NotAfter.UTC(), FromWorkloadAPI: workloadAPI}
	s.Claims, err = claims.FromCertificate(cert)
	if err != nil {
		s.Error = err.Error()
		return s, nil
	}
	// The record as carried, for --json. Only once pkg/claims has checked
	// it: veraison/cmw v0.2.0 panics on some malformed records (found by
	// FuzzParseSVID), which pkg/claims refuses before decoding.
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(claims.OID) && len(ext.Value) <= claims.MaxSize {
			if w, err := cmw.DecodeX509Extension(ext); err == nil {
				s.setRecord(w)
			}
		}
	}
	return s, nil
}

// fromToken decodes a JWT-SVID's claims without verifying its signature.
func fromToken(source, token string, workloadAPI bool) (svidClaims, error) {
	if len(token) > maxSVIDFile {
		return svidClaims{}, fmt.Errorf("token larger than %d bytes", maxSVIDFile)
	}
	tok, err := jwt.ParseSigned(token, jwtAlgorithms)
	if err != nil {
		return svidClaims{}, fmt.Errorf("neither a PEM certificate nor a JWT: %w", err)
	}
	var std jwt.Claims
	m := map[string]any{}
	if err := tok.UnsafeClaimsWithoutVerification(&std, &m); err != nil {
		return svidClaims{}, fmt.Errorf("JWT claims: %w", err)
	}
	if !strings.HasPrefix(std.Subject, "spiffe://") {
		return svidClaims{}, fmt.Errorf("not a JWT-SVID: subject %q is not a SPIFFE ID", std.Subject)
	}
	s := svidClaims{Source: source, Kind: kindJWT, SPIFFEID: std.Subject, FromWorkloadAPI: workloadAPI}
	if std.Expiry != nil {
		s.Expires = std.Expiry.Time().UTC()
	}
	s.Claims, err = claims.FromJWTClaims(m)
	if err != nil {
		s.Error = err.Error()
		return s, nil
	}
	// As in fromCertificate: only a record pkg/claims accepted.
	if v, ok := m[claims.JWTClaim]; ok {
		if b, err := json.Marshal(v); err == nil && len(b) <= claims.MaxSize {
			var w cmw.CMW
			if w.UnmarshalJSON(b) == nil {
				s.setRecord(&w)
			}
		}
	}
	return s, nil
}

// setRecord keeps the CMW record's media type and, when it is JSON, its
// value (the EAR), for --json.
func (s *svidClaims) setRecord(w *cmw.CMW) {
	if w.GetKind() != cmw.KindMonad {
		return
	}
	if mt, err := w.GetMonadType(); err == nil {
		s.MediaType = mt
	}
	if v, err := w.GetMonadValue(); err == nil && json.Valid(v) {
		s.EAR = json.RawMessage(v)
	}
}

// fetchSVIDs fetches the caller's X509-SVIDs, or with an audience its
// JWT-SVID (of spiffeID, when not empty; else the agent's first).
func fetchSVIDs(addr, audience, spiffeID string, timeout time.Duration) ([]svidClaims, error) {
	if strings.HasPrefix(addr, "/") {
		addr = "unix://" + addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		return nil, serverErrorf("workload API %s: %w", addr, err)
	}
	defer client.Close()
	source := "workload API " + addr
	if audience != "" {
		params := jwtsvid.Params{Audience: audience}
		if spiffeID != "" {
			id, err := spiffeid.FromString(spiffeID)
			if err != nil {
				return nil, usageErrorf("--spiffe-id: %w", err)
			}
			params.Subject = id
		}
		svid, err := client.FetchJWTSVID(ctx, params)
		if err != nil {
			return nil, serverErrorf("workload API %s: fetch JWT-SVID: %w", addr, err)
		}
		s, err := fromToken(source, svid.Marshal(), true)
		if err != nil {
			return nil, serverErrorf("workload API %s: %w", addr, err)
		}
		return []svidClaims{s}, nil
	}
	svids, err := client.FetchX509SVIDs(ctx)
	if err != nil {
		return nil, serverErrorf("workload API %s: fetch X509-SVIDs: %w", addr, err)
	}
	var out []svidClaims
	for _, svid := range svids {
		s, err := fromCertificate(source, svid.Certificates[0], true)
		if err != nil {
			return nil, serverErrorf("workload API %s: %w", addr, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func printClaims(e *env, svids []svidClaims, asJSON bool) error {
	failed := 0
	for _, s := range svids {
		if s.Claims == nil || s.SignatureError != "" {
			failed++
		}
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		var v any = svids
		if len(svids) == 1 {
			v = svids[0]
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		for i, s := range svids {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			printText(e.stdout, s)
		}
	}
	if failed > 0 {
		for _, s := range svids {
			if s.SignatureError != "" {
				fmt.Fprintf(e.stderr, "hwattest claims: %s %s: signature: %s\n", s.Kind, s.SPIFFEID, s.SignatureError)
			}
			if s.Claims == nil {
				fmt.Fprintf(e.stderr, "hwattest claims: %s %s: %s\n", s.Kind, s.SPIFFEID, s.Error)
			}
		}
		return silentFailure
	}
	return nil
}

func printText(w io.Writer, s svidClaims) {
	kind := "X509-SVID"
	if s.Kind == kindJWT {
		kind = "JWT-SVID"
	}
	checked := "signature not checked"
	switch {
	case s.FromWorkloadAPI:
		checked = "from the SPIRE agent"
	case s.SignatureChecked:
		checked = "signature verified against the bundle"
	case s.SignatureError != "":
		checked = "SIGNATURE NOT VALID: " + s.SignatureError
	}
	fmt.Fprintf(w, "%s %s (%s; %s)\n", kind, s.SPIFFEID, s.Source, checked)
	fmt.Fprintf(w, "  expires:   %s\n", s.Expires.Format(time.RFC3339))
	c := s.Claims
	if c == nil {
		fmt.Fprintf(w, "  claims:    REFUSED: %s\n", s.Error)
		return
	}
	fmt.Fprintf(w, "  claims:    EAR (%s) in a RATS CMW\n", claims.Profile)
	fmt.Fprintf(w, "  issued:    %s by %s\n", c.IssuedAt.Format(time.RFC3339), c.Verifier)
	printAppraisal(w, claims.SubmodNode, c.Node)
	if c.Workload != nil {
		printAppraisal(w, claims.SubmodWorkload, c.Workload)
	} else {
		fmt.Fprintf(w, "  %s: none (an agent's SVID)\n", claims.SubmodWorkload)
	}
}

func printAppraisal(w io.Writer, name string, a *claims.Appraisal) {
	fmt.Fprintf(w, "  %s: %s\n", name, a.Status)
	if a.AgentID != "" {
		fmt.Fprintf(w, "    agent:         %s\n", a.AgentID)
	}
	if !a.AttestedAt.IsZero() {
		fmt.Fprintf(w, "    attested:      %s\n", a.AttestedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "    trust vector:  %s\n", trustVector(a.TrustVector))
	fmt.Fprintf(w, "    selectors:\n")
	if len(a.Selectors) == 0 {
		fmt.Fprintf(w, "      (none)\n")
	}
	for _, sel := range a.Selectors {
		fmt.Fprintf(w, "      %s\n", sel)
	}
}

// trustVector names the claimed components, in AR4SI order, with their
// value and tier; unclaimed ones (0) are left out.
func trustVector(tv ear.TrustVector) string {
	var parts []string
	for _, c := range []struct {
		name string
		v    ear.TrustClaim
	}{
		{"instance-identity", tv.InstanceIdentity}, {"configuration", tv.Configuration},
		{"executables", tv.Executables}, {"file-system", tv.FileSystem}, {"hardware", tv.Hardware},
		{"runtime-opaque", tv.RuntimeOpaque}, {"storage-opaque", tv.StorageOpaque}, {"sourced-data", tv.SourcedData},
	} {
		if c.v != ear.NoClaim {
			parts = append(parts, fmt.Sprintf("%s=%d (%s)", c.name, c.v, c.v.GetTier()))
		}
	}
	if len(parts) == 0 {
		return "(no component claimed)"
	}
	return strings.Join(parts, " ")
}

// verifySVIDs verifies each file SVID against the bundle at path, for the
// SVID's trust domain, at the current time. A failure is recorded in the
// SVID (exit 1 after printing); an unreadable bundle is an input error.
func verifySVIDs(svids []svidClaims, path string) error {
	raw, err := readfile.Limited(path, maxSVIDFile)
	if err != nil {
		return usageErrorf("--bundle: %w", err)
	}
	for i := range svids {
		s := &svids[i]
		id, err := spiffeid.FromString(s.SPIFFEID)
		if err != nil {
			return usageErrorf("%s: %w", s.Source, err)
		}
		td := id.TrustDomain()
		var (
			x509s x509bundle.Source
			jwts  jwtbundle.Source
		)
		if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '{' {
			b, err := spiffebundle.Parse(td, raw)
			if err != nil {
				return usageErrorf("--bundle %s: %w", path, err)
			}
			x509s, jwts = b, b
		} else {
			b, err := x509bundle.Parse(td, raw)
			if err != nil {
				return usageErrorf("--bundle %s: %w", path, err)
			}
			x509s = b
		}
		switch {
		case s.chain != nil:
			_, _, err = x509svid.Verify(s.chain, x509s)
		case jwts == nil:
			return usageErrorf("--bundle %s: a JWT-SVID needs a SPIFFE bundle (JSON, with JWT authorities), not PEM", path)
		default:
			_, err = jwtsvid.ParseAndValidate(s.token, jwts, nil)
		}
		if err != nil {
			s.SignatureError = err.Error()
			continue
		}
		s.SignatureChecked = true
	}
	return nil
}

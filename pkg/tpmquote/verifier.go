package tpmquote

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// DefaultPCRs is the selection used when Options.PCRs is empty: the PC Client
// boot PCRs 0-7 in the SHA-256 bank.
func DefaultPCRs() PCRSelection { return PCRSelection{SHA256: {0, 1, 2, 3, 4, 5, 6, 7}} }

// Options configure a Verifier.
type Options struct {
	// EK says how endorsement keys are accepted.
	EK EKPolicy
	// PCRs is the selection every quote must cover exactly; empty means
	// DefaultPCRs.
	PCRs PCRSelection
	// Now returns the verification time; nil means time.Now.
	Now func() time.Time
	// AllowSHA1Boot reads the secure boot state and the boot components
	// from a boot log that replayed only in the SHA-1 bank. By default such
	// a log replays but establishes neither (SHA-1 collisions are
	// practical): quote a SHA-256 bank instead.
	AllowSHA1Boot bool
}

// Verifier issues challenges and verifies responses. It is safe for
// concurrent use; it keeps no state between attestations beyond a bounded
// memo of secure boot decisions, each a deterministic function of the
// events it was decided from (sbcache.go).
type Verifier struct {
	ek        EKPolicy
	pcrs      PCRSelection
	now       func() time.Time
	allowSHA1 bool
	// secureBoot memoises secure boot decisions; every Verifier shares one.
	secureBoot *secureBootMemo
}

// NewVerifier validates opts and returns a Verifier.
func NewVerifier(opts Options) (*Verifier, error) {
	pcrs := opts.PCRs
	if len(pcrs) == 0 {
		pcrs = DefaultPCRs()
	}
	if err := pcrs.Validate(); err != nil {
		return nil, err
	}
	switch opts.EK.Require {
	case RequireCertificate, RequireHash, RequireEither, RequireBoth:
	default:
		return nil, errorf("unknown EK requirement %d", int(opts.EK.Require))
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{ek: opts.EK, pcrs: clonePCRSelection(pcrs), now: now, allowSHA1: opts.AllowSHA1Boot, secureBoot: secureBoots}, nil
}

// Session holds the state of one challenge: the expected secret and nonce.
// It verifies at most one response. It must not leave the verifier.
type Session struct {
	mu       sync.Mutex
	used     bool
	v        *Verifier
	att      *Attestation
	ek       *EK
	ak       *AK
	secret   []byte
	nonce    []byte
	pcrs     PCRSelection
	ekChecks []Check
	proven   bool
}

// EK returns the verified endorsement key of the session.
func (s *Session) EK() *EK { return s.ek }

// Proven reports whether Verify got as far as proving that the attester
// holds the EK: the credential was activated and the quote is the AK's
// signature over this session's nonce. Verify may still fail after that
// (a boot or IMA log that does not replay to the quoted PCRs): that is a
// refusal of a node known to be that EK's, not of a claim.
func (s *Session) Proven() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proven
}

// Challenge verifies the EK and AK of att and returns a challenge for the
// attester and the session that verifies its response. The secret and the
// nonce are fresh from crypto/rand.
func (v *Verifier) Challenge(att *Attestation) (*Challenge, *Session, error) {
	if err := att.check(); err != nil {
		return nil, nil, err
	}
	policy := v.ek
	if policy.CurrentTime.IsZero() {
		policy.CurrentTime = v.now()
	}
	ek, err := VerifyEK(att.EKCertificate, att.EKPublic, policy)
	if err != nil {
		return nil, nil, err
	}
	ak, err := VerifyAK(att.AK)
	if err != nil {
		return nil, nil, err
	}
	pcrs, err := v.negotiate(att.PCRBanks)
	if err != nil {
		return nil, nil, err
	}
	encap, err := tpm2.ImportEncapsulationKey(ek.tpmPublic)
	if err != nil {
		return nil, nil, refuse(ReasonMalformed, "ek public: %w", err)
	}
	secret := make([]byte, SecretSize)
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, errorf("secret: %w", err)
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, errorf("nonce: %w", err)
	}
	idObject, encSecret, err := tpm2.CreateCredential(rand.Reader, encap, ak.Name, secret)
	if err != nil {
		return nil, nil, refuse(ReasonMalformed, "make credential: %w", err)
	}
	ch := &Challenge{
		Version:         Version,
		Credential:      idObject,
		EncryptedSecret: encSecret,
		Nonce:           nonce,
		PCRs:            pcrs,
	}
	s := &Session{v: v, att: att, ek: ek, ak: ak, secret: secret, nonce: nonce, pcrs: ch.PCRs,
		ekChecks: ekChecks(ek)}
	return ch, s, nil
}

// negotiate returns the verifier's selection narrowed to the offered banks
// (all of it when the attester offers none explicitly).
func (v *Verifier) negotiate(offered []HashAlg) (PCRSelection, error) {
	sel := clonePCRSelection(v.pcrs)
	if len(offered) == 0 {
		return sel, nil
	}
	for alg := range sel {
		if !slices.Contains(offered, alg) {
			delete(sel, alg)
		}
	}
	if len(sel) == 0 {
		return nil, refuse(ReasonPCRBanks, "pcr banks: the verifier quotes %v, the attester offers %v", v.pcrs.Banks(), offered)
	}
	return sel, nil
}

func ekChecks(ek *EK) []Check {
	cert := Check{Name: "ek.certificate", Passed: ek.CertVerified}
	switch {
	case ek.CertVerified:
		cert.Detail = "chains to " + ek.Issuer
	case ek.Certificate != nil:
		cert.Detail = "presented, not trusted"
	default:
		cert.Detail = "none"
	}
	return []Check{
		cert,
		{Name: "ek.allowlist", Passed: ek.Listed},
		{Name: "ak.parameters", Passed: true, Detail: "restricted fixedTPM fixedParent signing key"},
	}
}

// Verify verifies the attester's response: the activated secret, the quote,
// the PCR values, and the event and IMA logs when sent. A session verifies
// one response; every later call fails, so a response cannot be replayed.
func (s *Session) Verify(resp *Response) (*Result, error) {
	s.mu.Lock()
	used := s.used
	s.used = true
	s.mu.Unlock()
	if used {
		return nil, refuse(ReasonSessionUsed, "challenge already answered")
	}
	if err := resp.check(); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(resp.Secret, s.secret) != 1 {
		return nil, refuse(ReasonActivation, "credential activation failed: the AK is not in the EK's TPM")
	}
	res := &Result{
		Verified:         s.v.now().UTC(),
		Checks:           append(s.ekChecks, Check{Name: "credential.activation", Passed: true}),
		EKHash:           s.ek.Hash,
		EKCertVerified:   s.ek.CertVerified,
		EKIssuer:         s.ek.Issuer,
		EKListed:         s.ek.Listed,
		Manufacturer:     s.ek.Manufacturer,
		ManufacturerName: s.ek.ManufacturerName,
		Model:            s.ek.Model,
		Version:          s.ek.Version,
		AKName:           s.ak.Name,
		Reported:         s.att.TPM,
	}
	if err := s.verifyEvidence(resp, res); err != nil {
		return nil, err
	}
	res.Trust = trustVector(res)
	res.Status = res.Trust.Status()
	return res, nil
}

// verifyEvidence verifies the quote, the PCR values and the logs of resp.
func (s *Session) verifyEvidence(resp *Response, res *Result) error {
	if err := s.verifyQuote(resp, res); err != nil {
		return err
	}
	s.mu.Lock()
	s.proven = true
	s.mu.Unlock()
	if len(resp.EventLog) > 0 {
		boot, err := replayBootLog(resp.EventLog, res.PCRs, s.v.allowSHA1, s.v.secureBoot)
		if err != nil {
			return err
		}
		res.Boot = boot
		res.Checks = append(res.Checks, Check{Name: "eventlog.replay", Passed: true,
			Detail: fmt.Sprintf("%d events in %v", boot.Events, boot.Banks)})
		if len(boot.Anomalies) > 0 {
			res.Checks = append(res.Checks, Check{Name: "eventlog.anomalies", Passed: false,
				Detail: strings.Join(boot.Anomalies, "; ")})
		}
	}
	if len(resp.IMALog) > 0 {
		m, err := replayIMALog(resp.IMALog, res.PCRs)
		if err != nil {
			return err
		}
		res.IMA = m
		detail := fmt.Sprintf("%d entries in %v", len(m.Entries), m.Banks)
		if n := len(m.Violations); n > 0 {
			detail = fmt.Sprintf("%d entries and %d violations (files not attested) in %v", len(m.Entries), n, m.Banks)
		}
		switch {
		case m.BootAggregate == nil:
			detail += "; no boot_aggregate: IMA did not measure this boot"
		case m.BootAggregate.PCRsVerified:
			detail += "; boot_aggregate of the quoted PCRs"
		default:
			detail += "; boot_aggregate not checked against PCRs"
		}
		res.Checks = append(res.Checks, Check{Name: "ima.replay", Passed: true, Detail: detail})
	}
	return nil
}

// verifyQuote checks the quote's signature, type, nonce and PCR selection,
// and that its PCR digest is the digest of the sent PCR values.
func (s *Session) verifyQuote(resp *Response, res *Result) error {
	sig, err := unmarshalTPM[tpm2.TPMTSignature]("quote signature", resp.QuoteSignature)
	if err != nil {
		return err
	}
	if err := verifySignature(s.ak.Public, s.ak.Hash, resp.Quote, sig); err != nil {
		return refuse(ReasonQuote, "quote: %w", err)
	}
	att, err := unmarshalTPM[tpm2.TPMSAttest]("quote", resp.Quote)
	if err != nil {
		return err
	}
	if att.Type != tpm2.TPMSTAttestQuote {
		return refuse(ReasonQuote, "quote: attestation type 0x%04x is not a quote", uint16(att.Type))
	}
	if subtle.ConstantTimeCompare(att.ExtraData.Buffer, s.nonce) != 1 {
		return refuse(ReasonQuote, "quote: nonce does not match the challenge")
	}
	info, err := att.Attested.Quote()
	if err != nil {
		return refuse(ReasonQuote, "quote: %w", err)
	}
	quoted, err := selectionFromTPML(info.PCRSelect)
	if err != nil {
		return &Error{Reason: ReasonQuote, Err: err}
	}
	if !sameSelection(quoted, s.pcrs) {
		return refuse(ReasonQuote, "quote: PCR selection %v differs from the requested %v", quoted, s.pcrs)
	}
	// The sent values must be exactly the quoted PCRs.
	n := 0
	for _, pcrs := range quoted {
		n += len(pcrs)
	}
	sent := 0
	for _, bank := range resp.PCRs {
		sent += len(bank)
	}
	// The PCR digest is the quote-signing hash over the selected PCR values,
	// in selection order: banks as listed, indices ascending.
	h := s.ak.Hash.New()
	values := PCRValues{}
	for _, sel := range info.PCRSelect.PCRSelections {
		alg := HashAlg(sel.Hash)
		values[alg] = map[int][]byte{}
		for _, idx := range quoted[alg] {
			d, ok := resp.PCRs[alg][idx]
			if !ok {
				return refuse(ReasonQuote, "quote: %s PCR %d is quoted but its value was not sent", alg, idx)
			}
			h.Write(d)
			values[alg][idx] = d
		}
	}
	if sent != n {
		return refuse(ReasonQuote, "quote: %d PCR values sent for %d quoted PCRs", sent, n)
	}
	if !bytes.Equal(h.Sum(nil), info.PCRDigest.Buffer) {
		return refuse(ReasonQuote, "quote: PCR values do not match the quoted PCR digest")
	}
	res.PCRs = values
	res.FirmwareVersion = att.FirmwareVersion
	res.ResetCount = att.ClockInfo.ResetCount
	res.RestartCount = att.ClockInfo.RestartCount
	res.Checks = append(res.Checks,
		Check{Name: "quote.signature", Passed: true},
		Check{Name: "quote.nonce", Passed: true},
		Check{Name: "quote.pcr_selection", Passed: true, Detail: s.pcrs.String()},
		Check{Name: "quote.pcr_digest", Passed: true})
	return nil
}

// trustVector assigns the tiers the evidence itself establishes. Reference
// values and named policies refine them (package policy).
func trustVector(res *Result) TrustVector {
	v := TrustVector{InstanceIdentity: TierAffirming, Hardware: TierAffirming}
	if res.Boot != nil {
		switch {
		case !res.Boot.SecureBoot.Known:
			v.Configuration = TierWarning
		case res.Boot.SecureBoot.Enabled:
			v.Configuration = TierAffirming
		default:
			v.Configuration = TierWarning
		}
	}
	return v
}

func clonePCRSelection(s PCRSelection) PCRSelection {
	out := PCRSelection{}
	for alg, pcrs := range s {
		c := append([]int(nil), pcrs...)
		sort.Ints(c)
		out[alg] = c
	}
	return out
}

// String formats the selection as "sha256:0,1,2 sha1:0".
func (s PCRSelection) String() string {
	var b bytes.Buffer
	for i, alg := range s.Banks() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:", alg)
		pcrs := append([]int(nil), s[alg]...)
		sort.Ints(pcrs)
		for j, p := range pcrs {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", p)
		}
	}
	return b.String()
}

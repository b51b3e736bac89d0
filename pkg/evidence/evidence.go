package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// Format names the file format in every evidence file.
const Format = "hwattest-evidence"

// Version is the evidence file format version; Decode refuses every other.
const Version = 1

// Statement is the text every evidence file carries in its statement field.
const Statement = "NOT a live attestation: the quote's nonce was chosen by the capturing tool, " +
	"not by a verifier, so the quote is not shown to be fresh; credential activation " +
	"(the AK is in the EK's TPM) was checked by the capturing tool at capture time " +
	"and cannot be repeated offline."

// Size limits of an evidence file. Decode checks every field against one.
const (
	// MaxSize bounds an encoded file: the largest logs tpmquote accepts
	// (1 MiB boot log, 2 MiB IMA log) in base64, with room for the rest.
	MaxSize = 8 << 20
	// MaxHostSize bounds the host name.
	MaxHostSize = 255
	// MaxTextSize bounds the TPM address, the tool name and the log paths.
	MaxTextSize = 4096
	// MaxChecks bounds the number of capture checks.
	MaxChecks = 64
	// MaxCheckTextSize bounds a capture check's name and detail.
	MaxCheckTextSize = 1024
)

// File is an evidence file.
type File struct {
	// Format is always Format.
	Format string `json:"format"`
	// Version is always Version.
	Version int `json:"version"`
	// Statement is always Statement.
	Statement string `json:"statement"`
	// Captured is when the capturing tool took the quote (its own clock,
	// not verified).
	Captured time.Time `json:"captured"`
	// Host is the capturing machine's host name (self-reported).
	Host string `json:"host"`
	// TPM is the address the TPM was opened at, e.g. "/dev/tpmrm0".
	TPM string `json:"tpm"`
	// Tool names the capturing tool.
	Tool string `json:"tool"`

	// Attestation is the attester's first message: EK certificate and
	// public area, AK parameters, self-reported TPM properties, offered
	// banks.
	Attestation tpmquote.Attestation `json:"attestation"`
	// Nonce is the quote's qualifying data, chosen by the capturing tool.
	Nonce []byte `json:"nonce"`
	// PCRSelection is the selection the quote covers.
	PCRSelection tpmquote.PCRSelection `json:"pcr_selection"`
	// Quote is the TPMS_ATTEST of TPM2_Quote.
	Quote []byte `json:"quote"`
	// QuoteSignature is the TPMT_SIGNATURE over Quote by the AK.
	QuoteSignature []byte `json:"quote_signature"`
	// PCRs are the values of the quoted PCRs.
	PCRs tpmquote.PCRValues `json:"pcrs"`
	// EventLog is the boot event log, absent when none was captured.
	EventLog []byte `json:"event_log,omitempty"`
	// EventLogPath is where the boot event log was read.
	EventLogPath string `json:"event_log_path,omitempty"`
	// IMALog is the IMA log, absent when none was captured.
	IMALog []byte `json:"ima_log,omitempty"`
	// IMALogPath is where the IMA log was read.
	IMALogPath string `json:"ima_log_path,omitempty"`

	// Capture is what the capturing tool checked live, at capture time.
	Capture Capture `json:"capture"`
}

// Capture records what the capturing tool checked at capture time, playing
// the verifier's part against the TPM itself. It is the capturing tool's
// statement; an offline verifier cannot check it.
type Capture struct {
	// CredentialActivated is true when the capturing tool made a credential
	// for the EK, bound to the AK's name, and the TPM activated it: the AK
	// was in the EK's TPM at capture time.
	CredentialActivated bool `json:"credential_activated"`
	// Checks are the checks of the capture-time verification.
	Checks []tpmquote.Check `json:"checks"`
}

// wireFile is File as decoded: the attestation is decoded by tpmquote.
type wireFile struct {
	File
	Attestation json.RawMessage `json:"attestation"`
}

// Encode encodes f as indented JSON, refusing a file larger than MaxSize.
func (f *File) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evidence: encode: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("evidence: encode: %d bytes exceed the limit of %d", len(b), MaxSize)
	}
	return append(b, '\n'), nil
}

// Decode decodes an evidence file and checks its format, version, shape and
// size limits (one JSON object, unknown fields refused, no trailing data).
// It verifies nothing: see Verify.
func Decode(b []byte) (*File, error) {
	f, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return f, nil
}

func decode(b []byte) (*File, error) {
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%d bytes exceed the limit of %d", len(b), MaxSize)
	}
	var w wireFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	f := w.File
	if f.Format != Format {
		return nil, fmt.Errorf("format %q is not %q", f.Format, Format)
	}
	if f.Version != Version {
		return nil, fmt.Errorf("unsupported version %d (want %d)", f.Version, Version)
	}
	if len(w.Attestation) == 0 {
		return nil, errors.New("attestation: missing")
	}
	att, err := tpmquote.DecodeAttestation(w.Attestation)
	if err != nil {
		return nil, err
	}
	f.Attestation = *att
	if err := f.check(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *File) check() error {
	switch {
	case f.Captured.IsZero():
		return errors.New("captured: missing")
	case len(f.Host) > MaxHostSize:
		return fmt.Errorf("host: %d bytes exceed the limit of %d", len(f.Host), MaxHostSize)
	case len(f.TPM) > MaxTextSize, len(f.Tool) > MaxTextSize, len(f.Statement) > MaxTextSize,
		len(f.EventLogPath) > MaxTextSize, len(f.IMALogPath) > MaxTextSize:
		return fmt.Errorf("a text field exceeds the limit of %d bytes", MaxTextSize)
	case len(f.Nonce) != tpmquote.NonceSize:
		return fmt.Errorf("nonce is %d bytes, want %d", len(f.Nonce), tpmquote.NonceSize)
	case len(f.Quote) == 0:
		return errors.New("quote: missing")
	case len(f.Quote) > tpmquote.MaxAttestSize:
		return fmt.Errorf("quote: %d bytes exceed the limit of %d", len(f.Quote), tpmquote.MaxAttestSize)
	case len(f.QuoteSignature) == 0:
		return errors.New("quote_signature: missing")
	case len(f.QuoteSignature) > tpmquote.MaxSignatureSize:
		return fmt.Errorf("quote_signature: %d bytes exceed the limit of %d", len(f.QuoteSignature), tpmquote.MaxSignatureSize)
	case len(f.EventLog) > tpmquote.MaxEventLogSize:
		return fmt.Errorf("event_log: %d bytes exceed the limit of %d", len(f.EventLog), tpmquote.MaxEventLogSize)
	case len(f.IMALog) > tpmquote.MaxIMALogSize:
		return fmt.Errorf("ima_log: %d bytes exceed the limit of %d", len(f.IMALog), tpmquote.MaxIMALogSize)
	case len(f.Capture.Checks) > MaxChecks:
		return fmt.Errorf("capture: %d checks exceed the limit of %d", len(f.Capture.Checks), MaxChecks)
	}
	for _, c := range f.Capture.Checks {
		if len(c.Name) > MaxCheckTextSize || len(c.Detail) > MaxCheckTextSize {
			return fmt.Errorf("capture: a check exceeds the limit of %d bytes", MaxCheckTextSize)
		}
	}
	if err := f.PCRSelection.Validate(); err != nil {
		return fmt.Errorf("pcr_selection: %w", err)
	}
	n := 0
	for _, bank := range f.PCRSelection {
		n += len(bank)
	}
	for alg, bank := range f.PCRs {
		for idx, d := range bank {
			if !f.selected(alg, idx) {
				return fmt.Errorf("pcrs: %s PCR %d is not in pcr_selection", alg, idx)
			}
			if len(d) != alg.Size() {
				return fmt.Errorf("pcrs: %s PCR %d is %d bytes, want %d", alg, idx, len(d), alg.Size())
			}
			n--
		}
	}
	if n != 0 {
		return errors.New("pcrs: not every PCR in pcr_selection has a value")
	}
	return nil
}

func (f *File) selected(alg tpmquote.HashAlg, idx int) bool {
	for _, i := range f.PCRSelection[alg] {
		if i == idx {
			return true
		}
	}
	return false
}

// Options say how Verify accepts the evidence.
type Options struct {
	// EK says how the EK is accepted (tpmquote.EKPolicy).
	EK tpmquote.EKPolicy
	// Now returns the verification time, at which certificates must be
	// valid; nil means time.Now.
	Now func() time.Time
}

// Verify verifies f offline with tpmquote's Verifier.VerifyRecorded: the EK
// against opts.EK, the AK parameters, the quote's signature by the AK, its
// nonce (the recorded one) and its PCR selection (exactly f.PCRSelection),
// the PCR values against the quoted digest, and the boot and IMA logs
// replayed against those values.
//
// It cannot check credential activation (f.Capture only reports what the
// capturing tool saw) or freshness: a Result from Verify shows internally
// consistent evidence signed by an AK, not a live TPM. Its instance-identity
// and hardware tiers are warning for that reason.
func (f *File) Verify(opts Options) (*tpmquote.Result, error) {
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: opts.EK, PCRs: f.PCRSelection, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	att := f.Attestation
	res, err := v.VerifyRecorded(&att, f.Nonce, &tpmquote.Response{
		Version:        tpmquote.Version,
		Quote:          f.Quote,
		QuoteSignature: f.QuoteSignature,
		PCRs:           f.PCRs,
		EventLog:       f.EventLog,
		IMALog:         f.IMALog,
	})
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	return res, nil
}

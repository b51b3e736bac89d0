package tpmquote

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
)

// Version is the evidence wire format version (docs/evidence.md). A decoder
// refuses every other version.
const Version = 1

// Size limits of the wire format. Every decoded field is checked against one.
const (
	// MaxAttestationSize bounds an encoded Attestation.
	MaxAttestationSize = 64 << 10
	// MaxChallengeSize bounds an encoded Challenge.
	MaxChallengeSize = 8 << 10
	// MaxResponseSize bounds an encoded Response; it matches gRPC's default
	// 4 MiB message limit that SPIRE's agent-server stream uses.
	MaxResponseSize = 4 << 20
	// MaxEKCertificateSize bounds a DER EK certificate.
	MaxEKCertificateSize = 8 << 10
	// MaxPublicSize bounds a TPMT_PUBLIC (an RSA-4096 key is about 600 bytes).
	MaxPublicSize = 2 << 10
	// MaxCreationDataSize bounds a TPMS_CREATION_DATA.
	MaxCreationDataSize = 2 << 10
	// MaxAttestSize bounds a TPMS_ATTEST.
	MaxAttestSize = 2 << 10
	// MaxSignatureSize bounds a TPMT_SIGNATURE (RSA-4096: 518 bytes).
	MaxSignatureSize = 1 << 10
	// MaxCredentialSize bounds a credential blob and its encrypted seed.
	MaxCredentialSize = 1 << 10
	// MaxSecretSize bounds the activated secret.
	MaxSecretSize = 64
	// MaxEventLogSize bounds the boot event log (real logs are 10-100 KiB).
	MaxEventLogSize = 1 << 20
	// MaxIMALogSize bounds the IMA log sent in a response; larger logs do
	// not fit SPIRE's gRPC messages and must be trimmed by policy.
	MaxIMALogSize = 2 << 20
	// MaxInfoSize bounds each self-reported TPM property string.
	MaxInfoSize = 128
)

// NonceSize is the size of the quote nonce: 32 bytes from crypto/rand, the
// digest size of SHA-256, so that a nonce is never guessable and fits every
// TPM's TPM2B_DATA.
const NonceSize = 32

// SecretSize is the size of the credential activation secret (crypto/rand).
const SecretSize = 32

// Attestation is the attester's first message: the EK, the AK parameters and
// what the TPM says about itself.
type Attestation struct {
	Version int `json:"version"`
	// EKCertificate is the DER EK certificate read from the TPM's NV, absent
	// for TPMs without one (hash allowlist mode).
	EKCertificate []byte `json:"ek_certificate,omitempty"`
	// EKPublic is the EK's TPMT_PUBLIC. With a certificate, its key must be
	// the certificate's key; its name algorithm and symmetric parameters are
	// what credential activation needs.
	EKPublic []byte `json:"ek_public"`
	// AK holds the attestation key parameters.
	AK AKParameters `json:"ak"`
	// TPM holds self-reported TPM properties (TPM2_GetCapability). They are
	// informational: trusted facts come from the EK certificate.
	TPM TPMInfo `json:"tpm"`
	// PCRBanks are the banks the attester offers to quote: the TPM's active
	// banks, narrowed by the attester's configuration. The verifier quotes
	// the banks it is configured with that are offered; absent means all of
	// them. It is a negotiation, not a fact: what a policy needs from a bank
	// that is not quoted fails that policy.
	PCRBanks []HashAlg `json:"pcr_banks,omitempty"`
}

// AKParameters describe an attestation key and prove that the TPM created it.
type AKParameters struct {
	// Public is the AK's TPMT_PUBLIC.
	Public []byte `json:"public"`
	// CreationData is the TPMS_CREATION_DATA returned by TPM2_Create.
	CreationData []byte `json:"creation_data"`
	// CreationAttest is the TPMS_ATTEST of TPM2_CertifyCreation, signed by
	// the AK itself.
	CreationAttest []byte `json:"creation_attest"`
	// CreationSignature is the TPMT_SIGNATURE over CreationAttest.
	CreationSignature []byte `json:"creation_signature"`
}

// TPMInfo holds self-reported TPM properties.
type TPMInfo struct {
	Manufacturer    string `json:"manufacturer,omitempty"`
	VendorString    string `json:"vendor_string,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
}

// Challenge is the verifier's answer to an Attestation.
type Challenge struct {
	Version int `json:"version"`
	// Credential is the credential blob (TPM2B_ID_OBJECT contents) made for
	// the EK and bound to the AK name.
	Credential []byte `json:"credential"`
	// EncryptedSecret is the seed encrypted to the EK (TPM2B_ENCRYPTED_SECRET
	// contents).
	EncryptedSecret []byte `json:"encrypted_secret"`
	// Nonce must appear as the quote's extraData.
	Nonce []byte `json:"nonce"`
	// PCRs is the selection the quote must cover exactly.
	PCRs PCRSelection `json:"pcrs"`
}

// Response is the attester's answer to a Challenge.
type Response struct {
	Version int `json:"version"`
	// Secret is the credential activated with the EK.
	Secret []byte `json:"secret"`
	// Quote is the TPMS_ATTEST of TPM2_Quote.
	Quote []byte `json:"quote"`
	// QuoteSignature is the TPMT_SIGNATURE over Quote by the AK.
	QuoteSignature []byte `json:"quote_signature"`
	// PCRs are the values of the quoted PCRs.
	PCRs PCRValues `json:"pcrs"`
	// EventLog is the TCG boot event log (binary_bios_measurements).
	EventLog []byte `json:"event_log,omitempty"`
	// IMALog is the IMA log (binary_runtime_measurements or the ASCII form).
	IMALog []byte `json:"ima_log,omitempty"`
}

// Marshal encodes a in the wire format.
func (a *Attestation) Marshal() ([]byte, error) { return encode(a, MaxAttestationSize) }

// Marshal encodes c in the wire format.
func (c *Challenge) Marshal() ([]byte, error) { return encode(c, MaxChallengeSize) }

// Marshal encodes r in the wire format.
func (r *Response) Marshal() ([]byte, error) { return encode(r, MaxResponseSize) }

// DecodeAttestation decodes and checks the shape and limits of an Attestation.
func DecodeAttestation(b []byte) (*Attestation, error) {
	var a Attestation
	if err := decode(b, MaxAttestationSize, "attestation", &a); err != nil {
		return nil, err
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return &a, nil
}

// DecodeChallenge decodes and checks the shape and limits of a Challenge.
func DecodeChallenge(b []byte) (*Challenge, error) {
	var c Challenge
	if err := decode(b, MaxChallengeSize, "challenge", &c); err != nil {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// DecodeResponse decodes and checks the shape and limits of a Response.
func DecodeResponse(b []byte) (*Response, error) {
	var r Response
	if err := decode(b, MaxResponseSize, "response", &r); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

func encode(v any, limit int) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errorf("encode: %w", err)
	}
	if len(b) > limit {
		return nil, errorf("encode: %d bytes exceed the limit of %d", len(b), limit)
	}
	return b, nil
}

// decode parses one JSON object of at most limit bytes, rejecting unknown
// fields and trailing data.
func decode(b []byte, limit int, what string, v any) error {
	if len(b) == 0 {
		return refuse(ReasonMalformed, "%s: empty", what)
	}
	if len(b) > limit {
		return refuse(ReasonMalformed, "%s: %d bytes exceed the limit of %d", what, len(b), limit)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return refuse(ReasonMalformed, "%s: %w", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return refuse(ReasonMalformed, "%s: trailing data", what)
	}
	return nil
}

func checkVersion(what string, v int) error {
	if v != Version {
		return refuse(ReasonMalformed, "%s: unsupported version %d (want %d)", what, v, Version)
	}
	return nil
}

// field checks one field's size: required fields must be non-empty.
func field(what string, b []byte, limit int, required bool) error {
	if required && len(b) == 0 {
		return refuse(ReasonMalformed, "%s: missing", what)
	}
	if len(b) > limit {
		return refuse(ReasonMalformed, "%s: %d bytes exceed the limit of %d", what, len(b), limit)
	}
	return nil
}

func (a *Attestation) check() error {
	return firstErr(
		checkVersion("attestation", a.Version),
		field("attestation: ek_certificate", a.EKCertificate, MaxEKCertificateSize, false),
		field("attestation: ek_public", a.EKPublic, MaxPublicSize, true),
		field("attestation: ak.public", a.AK.Public, MaxPublicSize, true),
		field("attestation: ak.creation_data", a.AK.CreationData, MaxCreationDataSize, true),
		field("attestation: ak.creation_attest", a.AK.CreationAttest, MaxAttestSize, true),
		field("attestation: ak.creation_signature", a.AK.CreationSignature, MaxSignatureSize, true),
		field("attestation: tpm.manufacturer", []byte(a.TPM.Manufacturer), MaxInfoSize, false),
		field("attestation: tpm.vendor_string", []byte(a.TPM.VendorString), MaxInfoSize, false),
		field("attestation: tpm.firmware_version", []byte(a.TPM.FirmwareVersion), MaxInfoSize, false),
		checkBanks(a.PCRBanks),
	)
}

func checkBanks(banks []HashAlg) error {
	if len(banks) > len(hashAlgNames) {
		return refuse(ReasonMalformed, "attestation: pcr_banks lists %d banks, at most %d", len(banks), len(hashAlgNames))
	}
	for i, b := range banks {
		if !b.Valid() {
			return refuse(ReasonMalformed, "attestation: pcr_banks: unknown bank %s", b)
		}
		if slices.Contains(banks[:i], b) {
			return refuse(ReasonMalformed, "attestation: pcr_banks: %s listed twice", b)
		}
	}
	return nil
}

func (c *Challenge) check() error {
	if err := firstErr(
		checkVersion("challenge", c.Version),
		field("challenge: credential", c.Credential, MaxCredentialSize, true),
		field("challenge: encrypted_secret", c.EncryptedSecret, MaxCredentialSize, true),
	); err != nil {
		return err
	}
	if len(c.Nonce) != NonceSize {
		return refuse(ReasonMalformed, "challenge: nonce is %d bytes, want %d", len(c.Nonce), NonceSize)
	}
	if err := c.PCRs.Validate(); err != nil {
		return &Error{Reason: ReasonMalformed, Err: err}
	}
	return nil
}

func (r *Response) check() error {
	if err := field("response: secret", r.Secret, MaxSecretSize, true); err != nil {
		return firstErr(checkVersion("response", r.Version), err)
	}
	return r.checkEvidence()
}

// checkEvidence checks every field of r but the secret, which a recorded
// response does not carry.
func (r *Response) checkEvidence() error {
	if err := firstErr(
		checkVersion("response", r.Version),
		field("response: quote", r.Quote, MaxAttestSize, true),
		field("response: quote_signature", r.QuoteSignature, MaxSignatureSize, true),
		field("response: event_log", r.EventLog, MaxEventLogSize, false),
		field("response: ima_log", r.IMALog, MaxIMALogSize, false),
	); err != nil {
		return err
	}
	if len(r.PCRs) == 0 {
		return refuse(ReasonMalformed, "response: pcrs: missing")
	}
	for alg, bank := range r.PCRs {
		if !alg.Valid() {
			return refuse(ReasonMalformed, "response: pcrs: unknown bank %s", alg)
		}
		for idx, d := range bank {
			if idx < 0 || idx > MaxPCR {
				return refuse(ReasonMalformed, "response: pcrs: PCR %d out of range 0..%d", idx, MaxPCR)
			}
			if len(d) != alg.Size() {
				return refuse(ReasonMalformed, "response: pcrs: %s PCR %d is %d bytes, want %d", alg, idx, len(d), alg.Size())
			}
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

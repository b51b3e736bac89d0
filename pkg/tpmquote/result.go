package tpmquote

import (
	"time"
)

// Status is the overall appraisal of an attestation, after IETF RATS EAR
// (draft-ietf-rats-ear) ear.status.
type Status string

// Statuses, from best to worst.
const (
	StatusNone            Status = "none"
	StatusAffirming       Status = "affirming"
	StatusWarning         Status = "warning"
	StatusContraindicated Status = "contraindicated"
)

// Tier is an AR4SI trustworthiness claim value (draft-ietf-rats-ar4si):
// 0 none, 2..31 affirming, 32..95 warning, 96..127 contraindicated.
type Tier int

// The tiers this package assigns.
const (
	TierNone            Tier = 0
	TierAffirming       Tier = 2
	TierWarning         Tier = 32
	TierContraindicated Tier = 96
)

// Status returns the status band the tier falls in.
func (t Tier) Status() Status {
	switch {
	case t >= TierContraindicated:
		return StatusContraindicated
	case t >= TierWarning:
		return StatusWarning
	case t >= TierAffirming:
		return StatusAffirming
	}
	return StatusNone
}

// TrustVector holds the AR4SI trustworthiness vector components.
type TrustVector struct {
	InstanceIdentity Tier `json:"instance-identity"`
	Configuration    Tier `json:"configuration"`
	Executables      Tier `json:"executables"`
	FileSystem       Tier `json:"file-system"`
	Hardware         Tier `json:"hardware"`
	RuntimeOpaque    Tier `json:"runtime-opaque"`
	StorageOpaque    Tier `json:"storage-opaque"`
	SourcedData      Tier `json:"sourced-data"`
}

// Status is the worst status among the vector's claimed components, or
// StatusNone when none is claimed.
func (v TrustVector) Status() Status {
	worst := TierNone
	for _, t := range []Tier{v.InstanceIdentity, v.Configuration, v.Executables, v.FileSystem,
		v.Hardware, v.RuntimeOpaque, v.StorageOpaque, v.SourcedData} {
		if t.Status() != StatusNone && (worst == TierNone || t > worst) {
			worst = t
		}
	}
	return worst.Status()
}

// Check records one verification step and its outcome.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// Result is what a verification checked and found. A Result is only returned
// when every cryptographic check passed; its trust vector then says how much
// the evidence establishes (policy may refine it).
type Result struct {
	Status   Status      `json:"status"`
	Trust    TrustVector `json:"trustworthiness_vector"`
	Verified time.Time   `json:"verified"`
	Checks   []Check     `json:"checks"`

	// EK facts.
	EKHash           string `json:"ek_hash"`
	EKCertVerified   bool   `json:"ek_cert_verified"`
	EKIssuer         string `json:"ek_issuer,omitempty"`
	EKListed         bool   `json:"ek_listed"`
	Manufacturer     string `json:"tpm_manufacturer,omitempty"`
	ManufacturerName string `json:"tpm_manufacturer_name,omitempty"`
	Model            string `json:"tpm_model,omitempty"`
	Version          string `json:"tpm_version,omitempty"`

	// AKName is the TPM name of the AK that signed the quote.
	AKName []byte `json:"ak_name"`
	// FirmwareVersion, ResetCount and RestartCount come from the signed quote.
	FirmwareVersion uint64 `json:"tpm_firmware_version"`
	ResetCount      uint32 `json:"reset_count"`
	RestartCount    uint32 `json:"restart_count"`
	// PCRs are the quoted PCR values.
	PCRs PCRValues `json:"pcrs"`
	// Boot is what the replayed boot event log shows; nil without a log.
	Boot *Boot `json:"boot,omitempty"`
	// IMA is what the replayed IMA log shows; nil without a log.
	IMA *IMA `json:"ima,omitempty"`
	// Reported holds the TPM's self-reported properties (not verified).
	Reported TPMInfo `json:"reported"`
}

// Boot is what a boot event log, replayed against the quote, shows.
type Boot struct {
	// Banks are the PCR banks the log was replayed in.
	Banks []HashAlg `json:"banks"`
	// SecureBoot is the UEFI secure boot state.
	SecureBoot SecureBoot `json:"secure_boot"`
	// Components are the measured boot components: every digest extended
	// into a PCR of ComponentPCRs, whatever type its event claims (but the
	// separators and the boot manager's action strings), and, from the other
	// PCRs, the events of the component types (informational).
	Components []BootComponent `json:"components"`
	// ComponentPCRs are the PCRs (of 2 and 4) that were quoted and whose
	// every extended digest is in Components; a boot_components policy needs
	// both. Empty when the log replayed only in SHA-1 and SHA-1 was not
	// allowed (Options.AllowSHA1Boot).
	ComponentPCRs []int `json:"component_pcrs"`
	// Anomalies are what the log shows that an honest firmware does not do
	// (an extend of PCR 2 after its separator, a second or an error
	// separator), or why the state was not read (a SHA-1-only replay).
	Anomalies []string `json:"anomalies,omitempty"`
	// Events is the number of replayed events.
	Events int `json:"events"`
}

// SecureBoot is the secure boot state read from the verified events.
type SecureBoot struct {
	// Known is false when the log does not establish the state (no PCR 7
	// events, a legacy BIOS log, or a state that does not parse).
	Known   bool   `json:"known"`
	Enabled bool   `json:"enabled"`
	Detail  string `json:"detail,omitempty"`
}

// BootComponent is one measured boot component: its PCR, digest and
// position are verified by the replay. Type is the event type the log
// claims: the digest does not cover it, so it is for display only. Data is
// the event's description, which the digest covers only when DataVerified.
type BootComponent struct {
	PCR          int     `json:"pcr"`
	Type         string  `json:"type"`
	Bank         HashAlg `json:"bank"`
	Digest       []byte  `json:"digest"`
	Data         string  `json:"data,omitempty"`
	DataVerified bool    `json:"data_verified"`
	// BeforeSeparator is true when the digest was extended before the
	// PCR's first EV_SEPARATOR (PCRs 0-7): by the firmware, before anything
	// the OS controls ran. A digest after it may be an OS loader or a run
	// time extend; the TPM cannot tell.
	BeforeSeparator bool `json:"before_separator"`
}

// IMA is what an IMA log, replayed against PCR 10, shows.
type IMA struct {
	Banks []HashAlg `json:"banks"`
	// BootAggregate is the log's first entry of PCR 10 when it is the
	// kernel's boot_aggregate, which a kernel with IMA logs before anything
	// else; it is not in Entries. It is nil when the covered log does not
	// start with one: PCR 10 was never extended (a kernel without IMA, or
	// IMA without a TPM: any log then replays as zero entries), or the log
	// is not a kernel's. A policy that requires IMA fails without it.
	BootAggregate *IMABootAggregate `json:"boot_aggregate,omitempty"`
	// Entries are every other covered measurement of PCR 10, whatever its
	// template name: files, and the buffers ima-buf names (kexec command
	// line, keys, critical data). The template name is not covered by the
	// template hash and ima-sig and ima-buf data have the same layout, so
	// the name cannot tell a buffer from a file; an IMA allowlist must list
	// the buffers' digests too.
	Entries []IMAEntry `json:"entries"`
	// Violations are the paths of the log's violation entries, in log
	// order: a file measured while open for writing, or opened for writing
	// while measured (ToMToU). IMA extends them as all ones and records no
	// digest, so what such a file held is not attested; they are not in
	// Entries, and an IMA allowlist does not see them.
	Violations []string `json:"violations"`
}

// IMABootAggregate is the boot_aggregate entry of an IMA log: the digest of
// PCRs 0-7 (SHA-1) or 0-9 (other banks) as the kernel read them when IMA
// started, in the bank HashAlg names.
type IMABootAggregate struct {
	HashAlg string `json:"hash_alg"`
	Hash    []byte `json:"hash"`
	// PCRsVerified is true when the quote holds those PCRs and the digest
	// is theirs. When the quote holds them and the digest is not theirs,
	// the attestation is refused: the PCRs changed after the kernel read
	// them, or the log is not this boot's. False when the quote lacks
	// some of them, or the digest is all zeros (the kernel had no PCR
	// bank it could use).
	PCRsVerified bool `json:"pcrs_verified"`
}

// IMAEntry is one covered measurement. Template is the template name as
// logged, which nothing covers; every other field is covered by PCR 10.
type IMAEntry struct {
	Template string `json:"template"`
	HashAlg  string `json:"hash_alg"`
	Hash     []byte `json:"hash"`
	// Path is the file's path, or a buffer's event name.
	Path string `json:"path"`
	// Signed is true when the third field of an ima-sig entry is not
	// empty. The signature is not verified, and an entry relabelled as
	// ima-sig shows its buffer as a signature.
	Signed bool `json:"signed"`
}

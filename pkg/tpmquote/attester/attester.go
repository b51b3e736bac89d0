package attester

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// Default log paths: the kernel's securityfs files.
const (
	DefaultEventLogPath = "/sys/kernel/security/tpm0/binary_bios_measurements"
	DefaultIMALogPath   = "/sys/kernel/security/ima/binary_runtime_measurements"
)

// Config configures evidence collection.
type Config struct {
	// EKAlgorithm picks the EK: RSA (the default, as spiffe/spire-tpm-plugin
	// uses, so agent IDs stay the same) or ECC.
	EKAlgorithm KeyAlgorithm
	// AKAlgorithm picks the AK: ECC (ECDSA P-256, the default) or RSA 2048.
	AKAlgorithm KeyAlgorithm
	// AKPath, when set, persists the AK (its public and wrapped private area
	// and creation evidence, no secret) in this file and reuses it.
	AKPath string
	// EventLogPath is the boot event log; "" means DefaultEventLogPath,
	// "-" sends none. A missing file sends none.
	EventLogPath string
	// IMALogPath is the IMA log; "" sends none. A missing file sends none.
	IMALogPath string
	// PCRBanks narrows the banks offered for quoting; empty offers every
	// active bank. A challenge for another bank is refused.
	PCRBanks []tpmquote.HashAlg
}

// Session is one attestation against one TPM. It holds the loaded EK and AK;
// Close flushes every transient object it created.
type Session struct {
	tpm     transport.TPM
	cfg     Config
	ek      *EK
	ak      tpm2.NamedHandle
	banks   []tpmquote.HashAlg
	flushes []tpm2.TPMHandle
}

// Begin finds the EK, creates or loads the AK and returns the session with
// the Attestation to send to the verifier. On error it has flushed what it
// created.
func Begin(tpm transport.TPM, cfg Config) (s *Session, att *tpmquote.Attestation, err error) {
	if cfg.EKAlgorithm == "" {
		cfg.EKAlgorithm = RSA
	}
	if cfg.AKAlgorithm == "" {
		cfg.AKAlgorithm = ECC
	}
	if err := checkAlg("ek", cfg.EKAlgorithm); err != nil {
		return nil, nil, err
	}
	if err := checkAlg("ak", cfg.AKAlgorithm); err != nil {
		return nil, nil, err
	}
	s = &Session{tpm: tpm, cfg: cfg}
	banks, err := offeredBanks(tpm, cfg.PCRBanks)
	if err != nil {
		return nil, nil, err
	}
	s.banks = banks
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	ek, err := findEK(tpm, cfg.EKAlgorithm)
	if err != nil {
		return s, nil, err
	}
	s.ek = ek
	if ek.transient {
		s.flushes = append(s.flushes, ek.handle)
	}
	ak, err := s.loadAK()
	if err != nil {
		return s, nil, err
	}
	info, err := ReadInfo(tpm)
	if err != nil {
		return s, nil, err
	}
	return s, &tpmquote.Attestation{
		Version:       tpmquote.Version,
		EKCertificate: ek.Certificate,
		EKPublic:      tpm2.Marshal(*ek.Public),
		AK:            *ak,
		TPM:           info,
		PCRBanks:      s.banks,
	}, nil
}

// EK returns the session's endorsement key.
func (s *Session) EK() *EK { return s.ek }

// Respond answers a challenge: it activates the credential with the EK,
// quotes the requested PCRs with the nonce, reads their values, and attaches
// the logs. The quote comes before the logs are read, so the logs hold at
// least what the quote covers.
func (s *Session) Respond(ch *tpmquote.Challenge) (*tpmquote.Response, error) {
	for _, alg := range ch.PCRs.Banks() {
		if !slices.Contains(s.banks, alg) {
			return nil, errorf("challenge asks for PCR bank %s, offered only %v", alg, s.banks)
		}
	}
	secret, err := tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: s.ak.Handle, Name: s.ak.Name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle:      tpm2.AuthHandle{Handle: s.ek.handle, Name: s.ek.name, Auth: s.ek.auth()},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: ch.Credential},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: ch.EncryptedSecret},
	}.Execute(s.tpm)
	if err != nil {
		return nil, errorf("activate credential: %w", err)
	}
	sel := ch.PCRs.TPML()
	q, err := tpm2.Quote{
		SignHandle:     tpm2.AuthHandle{Handle: s.ak.Handle, Name: s.ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: ch.Nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect:      sel,
	}.Execute(s.tpm)
	if err != nil {
		return nil, errorf("quote: %w", err)
	}
	pcrs, err := ReadPCRs(s.tpm, ch.PCRs)
	if err != nil {
		return nil, err
	}
	resp := &tpmquote.Response{
		Version:        tpmquote.Version,
		Secret:         secret.CertInfo.Buffer,
		Quote:          q.Quoted.Bytes(),
		QuoteSignature: tpm2.Marshal(q.Signature),
		PCRs:           pcrs,
	}
	evPath := s.cfg.EventLogPath
	if evPath == "" {
		evPath = DefaultEventLogPath
	}
	if evPath != "-" {
		if resp.EventLog, err = readLog(evPath, tpmquote.MaxEventLogSize); err != nil {
			return nil, err
		}
	}
	if s.cfg.IMALogPath != "" {
		if resp.IMALog, err = readLog(s.cfg.IMALogPath, tpmquote.MaxIMALogSize); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// Close flushes every transient object the session created.
func (s *Session) Close() {
	for i := len(s.flushes) - 1; i >= 0; i-- {
		flush(s.tpm, s.flushes[i])
	}
	s.flushes = nil
}

// ReadPCRs reads the selected PCRs. TPM2_PCR_Read returns at most 8 values
// per call, so it asks again for what is left.
func ReadPCRs(tpm transport.TPM, sel tpmquote.PCRSelection) (tpmquote.PCRValues, error) {
	out := tpmquote.PCRValues{}
	for _, alg := range sel.Banks() {
		out[alg] = map[int][]byte{}
		for _, idx := range sel[alg] {
			rsp, err := tpm2.PCRRead{PCRSelectionIn: tpmquote.PCRSelection{alg: {idx}}.TPML()}.Execute(tpm)
			if err != nil {
				return nil, errorf("read %s PCR %d: %w", alg, idx, err)
			}
			if len(rsp.PCRValues.Digests) != 1 {
				return nil, errorf("read %s PCR %d: the TPM does not have this bank", alg, idx)
			}
			out[alg][idx] = rsp.PCRValues.Digests[0].Buffer
		}
	}
	return out, nil
}

// readLog reads a log file of at most limit bytes; a missing file is no log.
func readLog(path string, limit int) ([]byte, error) {
	b, err := readfile.Limited(path, int64(limit))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf("read log: %w", err)
	}
	return b, nil
}

// ReadInfo reads the TPM's self-reported manufacturer, vendor string and
// firmware version (TPM2_GetCapability). They are informational: the EK
// certificate is what certifies a TPM's make.
func ReadInfo(tpm transport.TPM) (tpmquote.TPMInfo, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTManufacturer),
		PropertyCount: uint32(tpm2.TPMPTFirmwareVersion2 - tpm2.TPMPTManufacturer + 1),
	}.Execute(tpm)
	if err != nil {
		return tpmquote.TPMInfo{}, errorf("read TPM properties: %w", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return tpmquote.TPMInfo{}, errorf("read TPM properties: %w", err)
	}
	v := map[tpm2.TPMPT]uint32{}
	for _, p := range props.TPMProperty {
		v[p.Property] = p.Value
	}
	ascii := func(pts ...tpm2.TPMPT) string {
		var b strings.Builder
		for _, pt := range pts {
			x := v[pt]
			for _, c := range []byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)} {
				if c >= 0x20 && c < 0x7f {
					b.WriteByte(c)
				}
			}
		}
		return strings.TrimSpace(b.String())
	}
	fw1, fw2 := v[tpm2.TPMPTFirmwareVersion1], v[tpm2.TPMPTFirmwareVersion2]
	return tpmquote.TPMInfo{
		Manufacturer:    ascii(tpm2.TPMPTManufacturer),
		VendorString:    ascii(tpm2.TPMPTVendorString1, tpm2.TPMPTVendorString2, tpm2.TPMPTVendorString3, tpm2.TPMPTVendorString4),
		FirmwareVersion: fmt.Sprintf("%d.%d.%d.%d", fw1>>16, fw1&0xffff, fw2>>16, fw2&0xffff),
	}, nil
}

// offeredBanks returns the TPM's active PCR banks (those with at least one PCR
// allocated) that hwattest knows, narrowed to want when it is not empty.
func offeredBanks(tpm transport.TPM, want []tpmquote.HashAlg) ([]tpmquote.HashAlg, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 1}.Execute(tpm)
	if err != nil {
		return nil, errorf("read PCR banks: %w", err)
	}
	sels, err := rsp.CapabilityData.Data.AssignedPCR()
	if err != nil {
		return nil, errorf("read PCR banks: %w", err)
	}
	var active, offered []tpmquote.HashAlg
	for _, sel := range sels.PCRSelections {
		alg := tpmquote.HashAlg(sel.Hash)
		if alg.Valid() && slices.ContainsFunc(sel.PCRSelect, func(b byte) bool { return b != 0 }) {
			active = append(active, alg)
		}
	}
	for _, alg := range active {
		if len(want) == 0 || slices.Contains(want, alg) {
			offered = append(offered, alg)
		}
	}
	if len(offered) == 0 {
		return nil, errorf("no active PCR bank to offer: active %v, configured %v", active, want)
	}
	return offered, nil
}

func checkAlg(what string, a KeyAlgorithm) error {
	if a != RSA && a != ECC {
		return errorf("%s algorithm %q: want %q or %q", what, a, RSA, ECC)
	}
	return nil
}

package attester

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"slices"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// KeyAlgorithm selects RSA or ECC keys.
type KeyAlgorithm string

// Key algorithms.
const (
	RSA KeyAlgorithm = "rsa"
	ECC KeyAlgorithm = "ecc"
)

// ekIndex is an EK certificate NV index of the TCG EK Credential Profile
// (section 2.2.1.5), with the template of its EK when the profile fixes one
// that this package can recreate.
type ekIndex struct {
	nv       tpm2.TPMHandle
	alg      KeyAlgorithm
	template *tpm2.TPMTPublic
}

// ekIndices lists the EK certificate indices in order of preference.
// swtpm stores its ECC certificate (NIST P-384) at 0x01c00016.
var ekIndices = []ekIndex{
	{0x01c00002, RSA, &tpm2.RSAEKTemplate}, // L-1: RSA 2048
	{0x01c00012, RSA, nil},                 // H-1: RSA 2048
	{0x01c0001c, RSA, nil},                 // H-6: RSA 3072
	{0x01c0001e, RSA, nil},                 // H-7: RSA 4096
	{0x01c0000a, ECC, &tpm2.ECCEKTemplate}, // L-2: ECC NIST P-256
	{0x01c00014, ECC, nil},                 // H-2: ECC NIST P-256
	{0x01c00016, ECC, nil},                 // H-3: ECC NIST P-384
	{0x01c00018, ECC, nil},                 // H-4: ECC NIST P-521
}

// persistentEKFirst, persistentEKLast bound the persistent handles reserved
// for endorsement keys (TCG Provisioning Guidance, 0x81010000-0x8101FFFF).
const (
	persistentEKFirst = 0x81010000
	persistentEKLast  = 0x8101FFFF
)

// maxNVChunk is the NV read size per command; every TPM supports at least
// 512 bytes (TPM_PT_NV_BUFFER_MAX).
const maxNVChunk = 512

// maxEKCertSize bounds an EK certificate read from NV.
const maxEKCertSize = 8 << 10

// EK is an endorsement key found in a TPM.
type EK struct {
	// Certificate is the DER EK certificate, nil when the TPM has none.
	Certificate []byte
	// Public is the EK public area (TPMT_PUBLIC).
	Public *tpm2.TPMTPublic
	// Key is the EK public key.
	Key crypto.PublicKey

	handle    tpm2.TPMHandle
	name      tpm2.TPM2BName
	transient bool
}

// findEK finds the EK of the given algorithm: the key of its certificate in
// NV, held at a persistent EK handle or recreated from the profile template;
// without a certificate, a persistent EK or the template's key. A transient
// EK must be flushed by the caller.
func findEK(tpm transport.TPM, alg KeyAlgorithm) (*EK, error) {
	nvs, err := handles(tpm, 0x01c00000, 0x01c0ffff)
	if err != nil {
		return nil, err
	}
	persisted, err := handles(tpm, persistentEKFirst, persistentEKLast)
	if err != nil {
		return nil, err
	}
	var keys []*EK
	for _, h := range persisted {
		rp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(tpm)
		if err != nil {
			continue
		}
		pub, err := rp.OutPublic.Contents()
		if err != nil || !isEK(pub, alg) {
			continue
		}
		key, err := tpm2.Pub(*pub)
		if err != nil {
			continue
		}
		keys = append(keys, &EK{Public: pub, Key: key, handle: h, name: rp.Name})
	}
	present := map[tpm2.TPMHandle]bool{}
	for _, h := range nvs {
		present[h] = true
	}
	for _, idx := range ekIndices {
		if idx.alg != alg || !present[idx.nv] {
			continue
		}
		der, err := readNV(tpm, idx.nv)
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil || cert.PublicKey == nil {
			continue // not a certificate this package can use
		}
		for _, k := range keys {
			if sameKey(k.Key, cert.PublicKey) {
				k.Certificate = der
				return k, nil
			}
		}
		if idx.template != nil {
			ek, err := createEK(tpm, *idx.template)
			if err != nil {
				return nil, err
			}
			if sameKey(ek.Key, cert.PublicKey) {
				ek.Certificate = der
				return ek, nil
			}
			flush(tpm, ek.handle)
		}
	}
	if len(keys) > 0 {
		return keys[0], nil
	}
	if alg == ECC {
		return createEK(tpm, tpm2.ECCEKTemplate)
	}
	return createEK(tpm, tpm2.RSAEKTemplate)
}

// ReadEK finds the TPM's EK of the given algorithm ("" means RSA) as Begin
// does, and returns its certificate and public key without keeping it: an EK
// created from the profile template is flushed again.
func ReadEK(tpm transport.TPM, alg KeyAlgorithm) (*EK, error) {
	if alg == "" {
		alg = RSA
	}
	if err := checkAlg("ek", alg); err != nil {
		return nil, err
	}
	ek, err := findEK(tpm, alg)
	if err != nil {
		return nil, err
	}
	if ek.transient {
		flush(tpm, ek.handle)
	}
	return &EK{Certificate: ek.Certificate, Public: ek.Public, Key: ek.Key}, nil
}

// EKCertificate is an EK certificate stored in the TPM's NV.
type EKCertificate struct {
	// Index is the NV index (TCG EK Credential Profile, section 2.2.1.5).
	Index uint32
	// Certificate is the DER certificate.
	Certificate []byte
}

// EKCertificates returns every EK certificate at the NV indices of the TCG
// EK Credential Profile that ReadEK looks at, in its order of preference.
// Each certifies an EK the TPM holds or can recreate, and an agent could
// attest with any of them. The certificates are not parsed or verified.
func EKCertificates(tpm transport.TPM) ([]EKCertificate, error) {
	nvs, err := handles(tpm, 0x01c00000, 0x01c0ffff)
	if err != nil {
		return nil, err
	}
	var out []EKCertificate
	for _, idx := range ekIndices {
		if !slices.Contains(nvs, idx.nv) {
			continue
		}
		der, err := readNV(tpm, idx.nv)
		if err != nil {
			return nil, err
		}
		out = append(out, EKCertificate{Index: uint32(idx.nv), Certificate: der})
	}
	return out, nil
}

func isEK(pub *tpm2.TPMTPublic, alg KeyAlgorithm) bool {
	a := pub.ObjectAttributes
	if !a.Restricted || !a.Decrypt || a.SignEncrypt || !a.FixedTPM || !a.FixedParent {
		return false
	}
	return (alg == RSA && pub.Type == tpm2.TPMAlgRSA) || (alg == ECC && pub.Type == tpm2.TPMAlgECC)
}

func createEK(tpm transport.TPM, template tpm2.TPMTPublic) (*EK, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHEndorsement,
		InPublic:      tpm2.New2B(template),
	}.Execute(tpm)
	if err != nil {
		return nil, errorf("create EK: %w", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err == nil {
		var key crypto.PublicKey
		if key, err = tpm2.Pub(*pub); err == nil {
			return &EK{Public: pub, Key: key, handle: rsp.ObjectHandle, name: rsp.Name, transient: true}, nil
		}
	}
	flush(tpm, rsp.ObjectHandle)
	return nil, errorf("create EK: %w", err)
}

// auth returns the authorization for using the EK: its empty auth value
// when userWithAuth is set (swtpm's high-range EKs), else the TCG EK policy,
// PolicySecret(TPM_RH_ENDORSEMENT), in a session of the EK's name algorithm.
func (ek *EK) auth() tpm2.Session {
	if ek.Public.ObjectAttributes.UserWithAuth {
		return tpm2.PasswordAuth(nil)
	}
	return tpm2.Policy(ek.Public.NameAlg, 16, func(tpm transport.TPM, handle tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    tpm2.TPMRHEndorsement,
			PolicySession: handle,
			NonceTPM:      nonceTPM,
		}.Execute(tpm)
		return err
	})
}

// handles lists the handles in [first, last] that the TPM reports.
func handles(tpm transport.TPM, first, last uint32) ([]tpm2.TPMHandle, error) {
	var out []tpm2.TPMHandle
	next := first
	for {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: next, PropertyCount: 64}.Execute(tpm)
		if err != nil {
			return nil, errorf("list handles: %w", err)
		}
		hs, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return nil, errorf("list handles: %w", err)
		}
		for _, h := range hs.Handle {
			if uint32(h) > last {
				return out, nil
			}
			out = append(out, h)
		}
		if !rsp.MoreData || len(hs.Handle) == 0 {
			return out, nil
		}
		next = uint32(hs.Handle[len(hs.Handle)-1]) + 1
	}
}

// readNV reads an NV index whole, authorizing with the index's own empty
// auth value, then trims the padding some TPMs leave after the DER.
func readNV(tpm transport.TPM, index tpm2.TPMHandle) ([]byte, error) {
	pub, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tpm)
	if err != nil {
		return nil, errorf("read NV 0x%08x public: %w", uint32(index), err)
	}
	nvPub, err := pub.NVPublic.Contents()
	if err != nil {
		return nil, errorf("read NV 0x%08x public: %w", uint32(index), err)
	}
	size := int(nvPub.DataSize)
	if size > maxEKCertSize {
		return nil, errorf("NV 0x%08x holds %d bytes, more than %d", uint32(index), size, maxEKCertSize)
	}
	out := make([]byte, 0, size)
	for len(out) < size {
		n := min(size-len(out), maxNVChunk)
		rsp, err := tpm2.NVRead{
			AuthHandle: tpm2.AuthHandle{Handle: index, Name: pub.NVName, Auth: tpm2.PasswordAuth(nil)},
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: pub.NVName},
			Size:       uint16(n),
			Offset:     uint16(len(out)),
		}.Execute(tpm)
		if err != nil {
			return nil, errorf("read NV 0x%08x: %w", uint32(index), err)
		}
		if len(rsp.Data.Buffer) == 0 {
			return nil, errorf("read NV 0x%08x: empty read", uint32(index))
		}
		out = append(out, rsp.Data.Buffer...)
	}
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(out, &raw); err == nil && len(rest) < len(out) {
		out = out[:len(out)-len(rest)]
	}
	return out, nil
}

func flush(tpm transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(tpm)
}

func sameKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

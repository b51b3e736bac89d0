package attester

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// maxAKFileSize bounds a persisted AK file.
const maxAKFileSize = 16 << 10

// akFile is a persisted AK. It holds no secret: the private area is wrapped
// by the TPM's storage root key and only that TPM can load it.
type akFile struct {
	Algorithm KeyAlgorithm          `json:"algorithm"`
	Private   []byte                `json:"private"`
	Params    tpmquote.AKParameters `json:"params"`
}

// akTemplate is a restricted signing key that the TPM generates and never
// exports: ECDSA P-256 or RSASSA 2048, both with SHA-256.
func akTemplate(alg KeyAlgorithm) tpm2.TPMTPublic {
	attrs := tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          true,
		SignEncrypt:         true,
	}
	if alg == RSA {
		return tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgRSA,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
				Scheme: tpm2.TPMTRSAScheme{
					Scheme:  tpm2.TPMAlgRSASSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
				},
				KeyBits: 2048,
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: make([]byte, 256)}),
		}
	}
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
			Y: tpm2.TPM2BECCParameter{Buffer: make([]byte, 32)},
		}),
	}
}

// loadAK loads the persisted AK when there is one of the configured
// algorithm, else creates one (and persists it when AKPath is set). The AK
// is a child of the ECC storage root key, a primary key the TPM derives the
// same way every time, so a persisted AK loads again after a restart.
func (s *Session) loadAK() (*tpmquote.AKParameters, error) {
	srk, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(s.tpm)
	if err != nil {
		return nil, errorf("create storage root key: %w", err)
	}
	// A loaded AK does not need its parent: flush the SRK as soon as the AK
	// is loaded, so that a session holds at most two objects (EK and AK)
	// and TPMs with three object slots (swtpm) can run it.
	defer flush(s.tpm, srk.ObjectHandle)
	parent := tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)}

	if s.cfg.AKPath != "" {
		f, err := readAKFile(s.cfg.AKPath)
		if err != nil {
			return nil, err
		}
		if f != nil && f.Algorithm == s.cfg.AKAlgorithm {
			loaded, err := tpm2.Load{
				ParentHandle: parent,
				InPrivate:    tpm2.TPM2BPrivate{Buffer: f.Private},
				InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](f.Params.Public),
			}.Execute(s.tpm)
			if err == nil {
				s.flushes = append(s.flushes, loaded.ObjectHandle)
				s.ak = tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name}
				return &f.Params, nil
			}
			// Another TPM, or the owner hierarchy was cleared: make a new AK.
		}
	}

	created, err := tpm2.Create{
		ParentHandle: parent,
		InPublic:     tpm2.New2B(akTemplate(s.cfg.AKAlgorithm)),
	}.Execute(s.tpm)
	if err != nil {
		return nil, errorf("create AK: %w", err)
	}
	loaded, err := tpm2.Load{
		ParentHandle: parent,
		InPrivate:    created.OutPrivate,
		InPublic:     created.OutPublic,
	}.Execute(s.tpm)
	if err != nil {
		return nil, errorf("load AK: %w", err)
	}
	s.flushes = append(s.flushes, loaded.ObjectHandle)
	s.ak = tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name}
	cert, err := tpm2.CertifyCreation{
		SignHandle:     tpm2.AuthHandle{Handle: loaded.ObjectHandle, Name: loaded.Name, Auth: tpm2.PasswordAuth(nil)},
		ObjectHandle:   s.ak,
		CreationHash:   created.CreationHash,
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		CreationTicket: created.CreationTicket,
	}.Execute(s.tpm)
	if err != nil {
		return nil, errorf("certify AK creation: %w", err)
	}
	params := &tpmquote.AKParameters{
		Public:            created.OutPublic.Bytes(),
		CreationData:      created.CreationData.Bytes(),
		CreationAttest:    cert.CertifyInfo.Bytes(),
		CreationSignature: tpm2.Marshal(cert.Signature),
	}
	if s.cfg.AKPath != "" {
		if err := writeAKFile(s.cfg.AKPath, &akFile{Algorithm: s.cfg.AKAlgorithm, Private: created.OutPrivate.Buffer, Params: *params}); err != nil {
			return nil, err
		}
	}
	return params, nil
}

func readAKFile(path string) (*akFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf("read AK file: %w", err)
	}
	if len(b) > maxAKFileSize {
		return nil, errorf("AK file %s is larger than %d bytes", path, maxAKFileSize)
	}
	var f akFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, errorf("AK file %s: %w", path, err)
	}
	return &f, nil
}

// writeAKFile writes atomically: a temp file in the same directory, renamed.
func writeAKFile(path string, f *akFile) error {
	b, err := json.Marshal(f)
	if err != nil {
		return errorf("encode AK file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ak-*")
	if err != nil {
		return errorf("write AK file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return errorf("write AK file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return errorf("write AK file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errorf("write AK file: %w", err)
	}
	return nil
}

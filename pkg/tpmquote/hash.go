package tpmquote

import (
	"crypto"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// HashAlg names a PCR bank by its TPM algorithm identifier (TPM_ALG_ID).
// Its text form is the lowercase name: "sha1", "sha256", "sha384", "sha512".
type HashAlg uint16

// The PCR banks this package understands.
const (
	SHA1   = HashAlg(tpm2.TPMAlgSHA1)
	SHA256 = HashAlg(tpm2.TPMAlgSHA256)
	SHA384 = HashAlg(tpm2.TPMAlgSHA384)
	SHA512 = HashAlg(tpm2.TPMAlgSHA512)
)

var hashAlgNames = map[HashAlg]string{SHA1: "sha1", SHA256: "sha256", SHA384: "sha384", SHA512: "sha512"}

// ParseHashAlg parses a bank name such as "sha256".
func ParseHashAlg(s string) (HashAlg, error) {
	for h, name := range hashAlgNames {
		if strings.EqualFold(s, name) {
			return h, nil
		}
	}
	return 0, errorf("unknown hash algorithm %q", s)
}

// Valid reports whether h is a bank this package understands.
func (h HashAlg) Valid() bool { _, ok := hashAlgNames[h]; return ok }

func (h HashAlg) String() string {
	if name, ok := hashAlgNames[h]; ok {
		return name
	}
	return fmt.Sprintf("alg(0x%04x)", uint16(h))
}

// MarshalText implements encoding.TextMarshaler.
func (h HashAlg) MarshalText() ([]byte, error) {
	if !h.Valid() {
		return nil, errorf("unknown hash algorithm 0x%04x", uint16(h))
	}
	return []byte(h.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *HashAlg) UnmarshalText(b []byte) error {
	v, err := ParseHashAlg(string(b))
	if err != nil {
		// The decoder that calls this adds the package prefix.
		return fmt.Errorf("unknown hash algorithm %q", b)
	}
	*h = v
	return nil
}

// Hash returns the crypto.Hash of the bank.
func (h HashAlg) Hash() crypto.Hash {
	switch h {
	case SHA1:
		return crypto.SHA1
	case SHA256:
		return crypto.SHA256
	case SHA384:
		return crypto.SHA384
	case SHA512:
		return crypto.SHA512
	}
	return 0
}

// Size is the digest size of the bank in bytes, 0 for an unknown bank.
func (h HashAlg) Size() int {
	if c := h.Hash(); c != 0 {
		return c.Size()
	}
	return 0
}

// MaxPCR is the highest PCR index (PC Client TPMs have 24 PCRs).
const MaxPCR = 23

// PCRSelection selects PCR indices in each bank. A quote covers exactly the
// selection the verifier asked for.
type PCRSelection map[HashAlg][]int

// Validate checks that the selection names known banks and PCR indices
// 0..MaxPCR, each at most once, and is not empty.
func (s PCRSelection) Validate() error {
	if len(s) == 0 {
		return errorf("empty PCR selection")
	}
	for alg, pcrs := range s {
		if !alg.Valid() {
			return errorf("PCR selection: unknown bank %s", alg)
		}
		if len(pcrs) == 0 {
			return errorf("PCR selection: bank %s selects no PCR", alg)
		}
		seen := map[int]bool{}
		for _, p := range pcrs {
			if p < 0 || p > MaxPCR {
				return errorf("PCR selection: PCR %d out of range 0..%d", p, MaxPCR)
			}
			if seen[p] {
				return errorf("PCR selection: PCR %d selected twice in bank %s", p, alg)
			}
			seen[p] = true
		}
	}
	return nil
}

// Banks returns the selected banks in ascending algorithm order.
func (s PCRSelection) Banks() []HashAlg { return sortedBanks(s) }

func sortedBanks[V any](m map[HashAlg]V) []HashAlg {
	banks := make([]HashAlg, 0, len(m))
	for alg := range m {
		banks = append(banks, alg)
	}
	sort.Slice(banks, func(i, j int) bool { return banks[i] < banks[j] })
	return banks
}

// TPML returns the selection as a TPML_PCR_SELECTION, banks in ascending
// algorithm order, each with a PC Client sized bitmap.
func (s PCRSelection) TPML() tpm2.TPMLPCRSelection {
	var l tpm2.TPMLPCRSelection
	for _, alg := range s.Banks() {
		idx := make([]uint, 0, len(s[alg]))
		for _, p := range s[alg] {
			idx = append(idx, uint(p))
		}
		l.PCRSelections = append(l.PCRSelections, tpm2.TPMSPCRSelection{
			Hash:      tpm2.TPMAlgID(alg),
			PCRSelect: tpm2.PCClientCompatible.PCRs(idx...),
		})
	}
	return l
}

// selectionFromTPML converts a TPML_PCR_SELECTION into a PCRSelection with
// sorted indices. It rejects unknown banks and a bank listed twice.
func selectionFromTPML(l tpm2.TPMLPCRSelection) (PCRSelection, error) {
	s := PCRSelection{}
	for _, sel := range l.PCRSelections {
		alg := HashAlg(sel.Hash)
		if !alg.Valid() {
			return nil, errorf("PCR selection: unknown bank %s", alg)
		}
		if _, dup := s[alg]; dup {
			return nil, errorf("PCR selection: bank %s listed twice", alg)
		}
		var pcrs []int
		for byteIdx, b := range sel.PCRSelect {
			for bit := 0; bit < 8; bit++ {
				if b&(1<<bit) != 0 {
					pcrs = append(pcrs, byteIdx*8+bit)
				}
			}
		}
		s[alg] = pcrs
	}
	return s, nil
}

// sameSelection reports whether a and b select the same PCRs in the same banks.
func sameSelection(a, b PCRSelection) bool {
	if len(a) != len(b) {
		return false
	}
	for alg, pa := range a {
		pb, ok := b[alg]
		if !ok || len(pa) != len(pb) {
			return false
		}
		set := map[int]bool{}
		for _, p := range pa {
			set[p] = true
		}
		for _, p := range pb {
			if !set[p] {
				return false
			}
		}
	}
	return true
}

// PCRValues holds PCR digests by bank and index.
type PCRValues map[HashAlg]map[int][]byte

// Banks returns the banks that hold values, in ascending algorithm order.
func (v PCRValues) Banks() []HashAlg { return sortedBanks(v) }

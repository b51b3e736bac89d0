package server

import (
	"github.com/hwattest/hwattest/nodeattestor/tpm"
)

// hashList is the EK hash allowlist, reloaded when its files change: an
// operator enrols or removes a TPM by editing a file, without restarting
// SPIRE. The change takes effect at the next attestation.
type hashList struct {
	*reloadable[map[string]bool]
}

func newHashList(paths []string) (*hashList, error) {
	h := &hashList{&reloadable[map[string]bool]{
		source: sourceEKHashes,
		list:   listFiles(paths),
		limit:  tpm.MaxListFileSize,
		build: func(files []file) (map[string]bool, error) {
			hashes := map[string]bool{}
			for _, f := range files {
				if err := tpm.AddEKHashes(f.path, f.b, hashes); err != nil {
					return nil, prefixed(sourceEKHashes, err)[0]
				}
			}
			return hashes, nil
		},
	}}
	if err := h.load(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *hashList) contains(hash string) bool { return h.get()[hash] }

// size is how many hashes the list in force holds.
func (h *hashList) size() int { return len(h.get()) }

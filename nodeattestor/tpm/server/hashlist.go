package server

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/nodeattestor/tpm"
)

// hashList is the EK hash allowlist, reloaded when its files change: an
// operator enrols or removes a TPM by editing a file, without restarting
// SPIRE. The change takes effect at the next attestation.
type hashList struct {
	paths []string

	mu     sync.RWMutex
	digest [sha256.Size]byte
	hashes map[string]bool
}

func newHashList(paths []string) (*hashList, error) {
	h := &hashList{paths: paths}
	if _, err := h.refresh(); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *hashList) contains(hash string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.hashes[hash]
}

// refresh reads the list's files and reloads the list when their names or
// contents changed, and reports whether it did. It compares contents, not
// sizes and modification times: an edit that keeps the size within the
// file system's timestamp granularity (or restores the time) still counts.
// The list parsed is the one read and hashed. On error the old list stays.
func (h *hashList) refresh() (bool, error) {
	type file struct {
		path string
		b    []byte
	}
	var files []file
	d := sha256.New()
	err := readfile.Each(h.paths, tpm.MaxListFileSize, func(path string, b []byte) error {
		files = append(files, file{path, b})
		// Lengths first, so that no two lists hash alike.
		d.Write(binary.BigEndian.AppendUint64(nil, uint64(len(path))))
		d.Write([]byte(path))
		d.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		d.Write(b)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ek_hash_paths: %w", err)
	}
	var digest [sha256.Size]byte
	d.Sum(digest[:0])
	h.mu.RLock()
	same := h.hashes != nil && digest == h.digest
	h.mu.RUnlock()
	if same {
		return false, nil
	}
	hashes := map[string]bool{}
	for _, f := range files {
		if err := tpm.AddEKHashes(f.path, f.b, hashes); err != nil {
			return false, fmt.Errorf("ek_hash_paths: %w", err)
		}
	}
	h.mu.Lock()
	h.digest, h.hashes = digest, hashes
	h.mu.Unlock()
	return true, nil
}

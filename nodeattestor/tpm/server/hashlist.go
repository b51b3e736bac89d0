package server

import (
	"fmt"
	"os"
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
	stamp  string
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

// refresh reloads the list when the names, sizes or modification times of
// its files changed, and reports whether it did. On error the old list
// stays.
func (h *hashList) refresh() (bool, error) {
	stamp, err := stampOf(h.paths)
	if err != nil {
		return false, err
	}
	h.mu.RLock()
	same := stamp == h.stamp
	h.mu.RUnlock()
	if same {
		return false, nil
	}
	hashes, err := tpm.LoadEKHashes(h.paths)
	if err != nil {
		return false, fmt.Errorf("ek_hash_paths: %w", err)
	}
	h.mu.Lock()
	h.stamp, h.hashes = stamp, hashes
	h.mu.Unlock()
	return true, nil
}

// stampOf summarizes the files named by paths (directories one level deep).
func stampOf(paths []string) (string, error) {
	files, err := readfile.List(paths)
	if err != nil {
		return "", fmt.Errorf("ek_hash_paths: %w", err)
	}
	var stamp []byte
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("ek_hash_paths: %w", err)
		}
		stamp = fmt.Appendf(stamp, "%s\x00%d\x00%d\n", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return string(stamp), nil
}

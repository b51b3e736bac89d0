package tpm

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hwattest/hwattest/internal/readfile"
)

// MaxListFileSize bounds one EK hash list or EK CA file.
const MaxListFileSize = 16 << 20

// LoadEKHashes reads EK hash allowlists, the format the server plugin's
// ek_hash_paths and the CLI's --ek-hashes share: files or directories (one
// level deep) of files with one hex SHA-256 per line and '#' comments; in a
// directory, a file named by a hash lists that hash too.
func LoadEKHashes(paths []string) (map[string]bool, error) {
	hashes := map[string]bool{}
	err := readfile.Each(paths, MaxListFileSize, func(path string, b []byte) error {
		return AddEKHashes(path, b, hashes)
	})
	return hashes, err
}

// AddEKHashes adds to into the hashes one file of an EK hash allowlist
// lists: its lines, and its name when the name is a hash. b is the file's
// contents, read from path.
func AddEKHashes(path string, b []byte, into map[string]bool) error {
	if name := filepath.Base(path); IsEKHash(name) {
		into[strings.ToLower(name)] = true
	}
	return parseEKHashes(path, b, into)
}

// parseEKHashes adds the hashes of one list file's contents b to into; path
// names the file in errors.
func parseEKHashes(path string, b []byte, into map[string]bool) error {
	return readfile.Lines(path, b, func(line int, s string) error {
		s, _, _ = strings.Cut(s, "#")
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
		if !IsEKHash(s) {
			return fmt.Errorf("%s line %d: not a hex SHA-256", path, line)
		}
		into[strings.ToLower(s)] = true
		return nil
	})
}

// IsEKHash reports whether s is a hex SHA-256 (either case).
func IsEKHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

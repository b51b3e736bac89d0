package tpm

import (
	"strings"
	"testing"
)

// FuzzEKHashList feeds arbitrary file contents to the EK hash list parser.
// It never panics; what it accepts are lowercase hex SHA-256s; an error
// names the file and line and quotes nothing from it.
//
// The seed corpus is below and testdata/fuzz/FuzzEKHashList.
func FuzzEKHashList(f *testing.F) {
	h := strings.Repeat("ab", 32)
	f.Add([]byte(h + "\n"))
	f.Add([]byte("# fleet A\n" + strings.ToUpper(h) + "  # rack 3\n\n   \n" + strings.Repeat("01", 32)))
	f.Add([]byte(h[:63] + "\n"))
	f.Add([]byte(h + "0\n"))
	f.Add([]byte(strings.Repeat("x", 70<<10)))
	f.Fuzz(func(t *testing.T, b []byte) {
		set := map[string]bool{}
		if err := parseEKHashes("list", b, set); err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "list") || len(msg) > 100 {
				t.Errorf("error %q", msg)
			}
			return
		}
		for hash := range set {
			if !IsEKHash(hash) || hash != strings.ToLower(hash) {
				t.Errorf("accepted %q", hash)
			}
		}
	})
}

package exe

import (
	"io"
	"time"
)

// Hasher is the plugin's hashing dependency, for tests that count reads.
type Hasher interface {
	Hash(r io.Reader, limit int64) ([32]byte, error)
}

// SHA256 is the plugin's own hasher.
func SHA256() Hasher { return sha256Hasher{} }

// NewForTest returns a plugin that hashes through h and refreshes its IMA
// anchor on a missing hash after missRefresh instead of DefaultMissRefresh.
func NewForTest(h Hasher, missRefresh time.Duration) *Plugin {
	p := New()
	p.hasher = h
	p.missRefresh = missRefresh
	return p
}

// CacheLen returns the number of cached hashes.
func CacheLen(p *Plugin) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.state.cache.len()
}

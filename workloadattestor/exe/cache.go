package exe

import (
	"container/list"
	"crypto/sha256"
	"sync"
)

// fileKey identifies a file's contents as far as its metadata can: the same
// inode on the same device, with the same size, mtime and ctime. Writing to
// the file or changing its metadata moves ctime, which (unlike mtime) a
// process cannot set back; an inode number reused by a new file gets a new
// ctime too.
type fileKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

// digest is a SHA-256.
type digest = [sha256.Size]byte

// hashCache is a bounded LRU of file hashes. Concurrent lookups of the same
// key while it is being hashed wait for that one hash instead of reading the
// file again.
type hashCache struct {
	mu       sync.Mutex
	max      int
	order    *list.List // of *cacheEntry, most recently used first
	entries  map[fileKey]*list.Element
	inflight map[fileKey]*inflight
}

type cacheEntry struct {
	key fileKey
	sum digest
}

type inflight struct {
	done chan struct{}
	sum  digest
	err  error
}

func newHashCache(max int) *hashCache {
	return &hashCache{
		max:      max,
		order:    list.New(),
		entries:  map[fileKey]*list.Element{},
		inflight: map[fileKey]*inflight{},
	}
}

// get returns the cached hash of k, or runs compute (once for all concurrent
// callers with this key) and caches its result unless it failed. hit reports
// whether this caller's result came without running compute itself.
func (c *hashCache) get(k fileKey, compute func() (digest, error)) (sum digest, hit bool, err error) {
	c.mu.Lock()
	if el, ok := c.entries[k]; ok {
		c.order.MoveToFront(el)
		sum = el.Value.(*cacheEntry).sum
		c.mu.Unlock()
		return sum, true, nil
	}
	if f, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		<-f.done
		return f.sum, true, f.err
	}
	f := &inflight{done: make(chan struct{})}
	c.inflight[k] = f
	c.mu.Unlock()

	f.sum, f.err = compute()

	c.mu.Lock()
	delete(c.inflight, k)
	if f.err == nil {
		c.add(k, f.sum)
	}
	c.mu.Unlock()
	close(f.done)
	return f.sum, false, f.err
}

// add stores a hash, dropping the least recently used beyond max. The caller
// holds c.mu.
func (c *hashCache) add(k fileKey, sum digest) {
	if el, ok := c.entries[k]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.entries[k] = c.order.PushFront(&cacheEntry{key: k, sum: sum})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

// len returns the number of cached hashes.
func (c *hashCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

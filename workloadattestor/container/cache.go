package container

import (
	"container/list"
	"sync"
	"time"
)

// maxSeen bounds the processes an entry remembers. A container with more
// processes than this still works: the others are checked against the
// remembered ones on every request instead of once.
const maxSeen = 64

// process is one process: a PID and its start time, which together name
// it even when the PID is reused.
type process struct {
	pid   int
	start uint64
}

// entry is a runtime's answer about one container.
type entry struct {
	id        string
	runtime   string
	info      containerInfo
	selectors []string // without pod_uid, which comes from each process's cgroup
	expires   time.Time
	// seen are processes that ran in this container since the answer
	// was fetched (guarded by the cache's mutex).
	seen []process
}

// cache is a bounded LRU of runtime answers by container ID. Concurrent
// lookups of one container while it is being fetched share one fetch.
type cache struct {
	mu       sync.Mutex
	max      int
	ttl      time.Duration
	now      func() time.Time
	order    *list.List // of *entry, most recently used first
	entries  map[string]*list.Element
	inflight map[string]*fetch
}

// fetch is a lookup in progress.
type fetch struct {
	done chan struct{}
	e    *entry
	err  error
}

func newCache(max int, ttl time.Duration, now func() time.Time) *cache {
	return &cache{
		max:      max,
		ttl:      ttl,
		now:      now,
		order:    list.New(),
		entries:  map[string]*list.Element{},
		inflight: map[string]*fetch{},
	}
}

// get returns the live entry for container id and whether p is one of the
// processes it has seen; an expired entry is dropped.
func (c *cache) get(id string, p process) (e *entry, seen bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return nil, false
	}
	e = el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.removeLocked(el)
		return nil, false
	}
	c.order.MoveToFront(el)
	for _, s := range e.seen {
		if s == p {
			return e, true
		}
	}
	return e, false
}

// others returns the processes e has seen, except p.
func (c *cache) others(e *entry, p process) []process {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]process, 0, len(e.seen))
	for _, s := range e.seen {
		if s.pid != p.pid {
			out = append(out, s)
		}
	}
	return out
}

// confirm records that p runs in e's container and forgets the processes
// in gone, found to have exited or left it.
func (c *cache) confirm(e *entry, p process, gone []process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := e.seen[:0]
	for _, s := range e.seen {
		if !containsProcess(gone, s) && s.pid != p.pid {
			kept = append(kept, s)
		}
	}
	e.seen = kept
	if len(e.seen) < maxSeen {
		e.seen = append(e.seen, p)
	}
}

func containsProcess(ps []process, p process) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// drop forgets container id, if e is still its entry.
func (c *cache) drop(id string, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok && el.Value.(*entry) == e {
		c.removeLocked(el)
	}
}

// load runs f to fetch container id (once for all concurrent callers),
// caches its entry unless it failed, and records p as seen in it. shared
// reports whether another caller's fetch answered.
func (c *cache) load(id string, p process, f func() (*entry, error)) (e *entry, shared bool, err error) {
	c.mu.Lock()
	if fl, ok := c.inflight[id]; ok {
		c.mu.Unlock()
		<-fl.done
		if fl.err == nil {
			c.confirm(fl.e, p, nil)
		}
		return fl.e, true, fl.err
	}
	fl := &fetch{done: make(chan struct{})}
	c.inflight[id] = fl
	c.mu.Unlock()

	fl.e, fl.err = f()

	c.mu.Lock()
	delete(c.inflight, id)
	if fl.err == nil {
		fl.e.expires = c.now().Add(c.ttl)
		fl.e.seen = append(fl.e.seen, p)
		c.addLocked(fl.e)
	} else if el, ok := c.entries[id]; ok {
		c.removeLocked(el)
	}
	c.mu.Unlock()
	close(fl.done)
	return fl.e, false, fl.err
}

// addLocked stores e, replacing an entry for the same container, then
// drops expired entries and the least recently used beyond max.
func (c *cache) addLocked(e *entry) {
	if el, ok := c.entries[e.id]; ok {
		c.removeLocked(el)
	}
	c.entries[e.id] = c.order.PushFront(e)
	now := c.now()
	for el := c.order.Back(); el != nil; {
		prev := el.Prev()
		if !now.Before(el.Value.(*entry).expires) {
			c.removeLocked(el)
		}
		el = prev
	}
	for c.order.Len() > c.max {
		c.removeLocked(c.order.Back())
	}
}

func (c *cache) removeLocked(el *list.Element) {
	c.order.Remove(el)
	delete(c.entries, el.Value.(*entry).id)
}

// len returns the number of cached containers.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

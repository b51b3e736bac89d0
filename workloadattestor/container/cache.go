package container

import (
	"container/list"
	"sync"
	"time"

	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
)

// entry is a runtime's answer about one container.
type entry struct {
	id        string
	runtime   string
	info      containerInfo
	selectors []string // without pod_uid, which comes from each process's cgroup
	// init is the container's process as the runtime reported it, read
	// from /proc when the answer was fetched. Every request is confirmed
	// against it, and the answer is used only while it runs (same PID and
	// start time): a container deleted and recreated under the same ID
	// has another.
	init    *cgroups.Process
	expires time.Time
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

// get returns the live entry for container id; an expired entry is
// dropped.
func (c *cache) get(id string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.removeLocked(el)
		return nil
	}
	c.order.MoveToFront(el)
	return e
}

// drop forgets container id, if e is still its entry.
func (c *cache) drop(id string, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok && el.Value.(*entry) == e {
		c.removeLocked(el)
	}
}

// load runs f to fetch container id (once for all concurrent callers) and
// caches its entry unless it failed. shared reports whether another
// caller's fetch answered.
func (c *cache) load(id string, f func() (*entry, error)) (e *entry, shared bool, err error) {
	c.mu.Lock()
	if fl, ok := c.inflight[id]; ok {
		c.mu.Unlock()
		<-fl.done
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

package provenance

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Defaults of a Checker.
const (
	// DefaultTimeout is the time budget of one image's registry lookup.
	DefaultTimeout = 2 * time.Second
	// DefaultCacheSize is the number of (repository, digest) results
	// kept. A result takes about a KiB.
	DefaultCacheSize = 1024
	// DefaultCacheTTL is how long a conclusive result is reused: a bundle
	// attached later (or a signature revoked by removing it) is seen after
	// at most this long.
	DefaultCacheTTL = 10 * time.Minute
	// DefaultFailureTTL is how long an unavailable registry's result is
	// reused: long enough that a registry outage does not cost every
	// request the whole time budget, short enough to recover quickly.
	DefaultFailureTTL = 10 * time.Second
)

// Source finds the bundles of an image digest in a repository.
type Source interface {
	Bundles(ctx context.Context, repo, digest string) ([]Candidate, error)
}

// Result is what the bundles of one image digest proved.
type Result struct {
	Repository string
	Digest     string
	// Bundles are the results of the bundles found (bundle directory
	// first, then the registry).
	Bundles []BundleResult
	// Unavailable, when set, is why the registry could not be asked
	// (wraps ErrUnavailable); bundles from the directory still count.
	Unavailable error
	// Satisfied are the names of the policies some bundle satisfied,
	// sorted.
	Satisfied []string
	// selectors are the selector values (without the plugin name).
	selectors []string
}

// Checker finds and verifies an image's bundles, and caches the results.
type Checker struct {
	Policies   []*Policy
	Dir        Dir
	Registry   Source // nil: the bundle directory only (offline)
	Timeout    time.Duration
	CacheTTL   time.Duration
	FailureTTL time.Duration
	now        func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	max   int
	order *list.List // of *cached, most recently used first
	byKey map[string]*list.Element
}

type cached struct {
	key     string
	res     *Result
	expires time.Time
}

// NewChecker returns a checker with a bounded cache of size results.
func NewChecker(policies []*Policy, dir Dir, registry Source, size int, now func() time.Time) *Checker {
	if size <= 0 {
		size = DefaultCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &Checker{
		Policies: policies, Dir: dir, Registry: registry,
		Timeout: DefaultTimeout, CacheTTL: DefaultCacheTTL, FailureTTL: DefaultFailureTTL,
		now: now, max: size, order: list.New(), byKey: map[string]*list.Element{},
	}
}

// Check returns the result for digest in repository repo: from the cache
// while fresh, else found and verified (once for concurrent callers of the
// same image). cached reports whether the cache answered.
func (c *Checker) Check(ctx context.Context, repo, digest string) (res *Result, cached bool) {
	key := repo + "@" + digest
	if r := c.get(key); r != nil {
		return r, true
	}
	v, _, _ := c.group.Do(key, func() (any, error) {
		// Shared by concurrent callers: not bound to the first one's
		// context, only to the time budget.
		r := c.check(context.WithoutCancel(ctx), repo, digest)
		ttl := c.CacheTTL
		if r.Unavailable != nil {
			ttl = c.FailureTTL
		}
		c.put(key, r, ttl)
		return r, nil
	})
	return v.(*Result), false
}

// check finds and verifies, without the cache.
func (c *Checker) check(ctx context.Context, repo, digest string) *Result {
	r := &Result{Repository: repo, Digest: digest}
	candidates, err := c.Dir.Bundles(digest)
	if err != nil {
		candidates = append(candidates, Candidate{Origin: "dir " + string(c.Dir), Err: err})
	}
	if c.Registry != nil && repo != "" {
		rctx, cancel := context.WithTimeout(ctx, c.Timeout)
		found, err := c.Registry.Bundles(rctx, repo, digest)
		cancel()
		switch {
		case errors.Is(err, ErrUnavailable):
			r.Unavailable = err
		case err != nil:
			candidates = append(candidates, Candidate{Origin: "registry " + repo, Err: err})
		}
		candidates = append(candidates, found...)
	}
	if len(candidates) > MaxBundles {
		n := len(candidates)
		candidates = append(candidates[:MaxBundles:MaxBundles], Candidate{Origin: "registry " + repo,
			Err: fmt.Errorf("%d bundles with the bundle directory's: more than %d, the rest are not read", n, MaxBundles)})
	}
	r.Bundles = Verify(c.Policies, digest, candidates)
	r.Satisfied, r.selectors = summarize(r.Bundles)
	return r
}

func (c *Checker) get(key string) *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cached)
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.byKey, key)
		return nil
	}
	c.order.MoveToFront(el)
	return e.res
}

func (c *Checker) put(key string, r *Result, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		c.order.Remove(el)
	}
	c.byKey[key] = c.order.PushFront(&cached{key: key, res: r, expires: c.now().Add(ttl)})
	for c.order.Len() > c.max {
		el := c.order.Back()
		c.order.Remove(el)
		delete(c.byKey, el.Value.(*cached).key)
	}
}

// Len returns the number of cached results.
func (c *Checker) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// summarize returns the satisfied policies and the selectors of the
// bundles that satisfied at least one (facts of a bundle no policy trusts
// are not believed).
func summarize(bundles []BundleResult) (satisfied, selectors []string) {
	for i := range bundles {
		b := &bundles[i]
		if b.Err != nil || !b.Satisfied() {
			continue
		}
		for _, p := range b.Policies {
			if p.Err == nil {
				satisfied = append(satisfied, p.Policy)
				selectors = append(selectors, SelectorPolicy+p.Policy)
			}
		}
		if s := b.Signer; s != nil {
			selectors = appendIf(selectors, SelectorIssuer, s.Issuer)
			selectors = appendIf(selectors, SelectorSAN, s.SAN)
			selectors = appendIf(selectors, SelectorSourceRepository, s.SourceRepository)
			selectors = appendIf(selectors, SelectorSourceRef, s.SourceRef)
			selectors = appendIf(selectors, SelectorSourceDigest, s.SourceDigest)
			selectors = appendIf(selectors, SelectorBuildSigner, s.BuildSignerURI)
		}
		selectors = appendIf(selectors, SelectorPredicateType, b.PredicateType)
		selectors = appendIf(selectors, SelectorBuilderID, b.BuilderID)
		selectors = appendIf(selectors, SelectorBuildType, b.BuildType)
	}
	slices.Sort(satisfied)
	slices.Sort(selectors)
	return slices.Compact(satisfied), slices.Compact(selectors)
}

func appendIf(s []string, prefix, v string) []string {
	if v == "" {
		return s
	}
	return append(s, prefix+v)
}

// Selectors returns the result's selector values (without the plugin
// name), sorted: those of the bundles that satisfied a policy, plus
// provenance_status:unavailable when the registry could not be asked.
func (r *Result) Selectors() []string {
	if r.Unavailable == nil {
		return r.selectors
	}
	return append(r.selectors[:len(r.selectors):len(r.selectors)], SelectorStatus+StatusUnavailable)
}

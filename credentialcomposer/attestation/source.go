package attestation

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// API is the part of the SPIRE server API the composer reads, as the
// generated clients declare it (internal/spireapi.Client has it).
type API interface {
	ListEntries(ctx context.Context, req *entryv1.ListEntriesRequest, opts ...grpc.CallOption) (*entryv1.ListEntriesResponse, error)
	GetAgent(ctx context.Context, req *agentv1.GetAgentRequest, opts ...grpc.CallOption) (*types.Agent, error)
}

// Paging bounds.
const (
	pageSize = 500
	// maxEntriesPerID bounds the entries read for one SPIFFE ID (and for
	// one node alias), against a server that keeps returning pages.
	maxEntriesPerID = 5000
)

// requirement is what SPIRE required before it issued an SVID of one
// SPIFFE ID: what all of its registration entries require of the workload
// and of the node.
type requirement struct {
	// found: the ID has registration entries.
	found bool
	// workload and node are sorted "type:value" selectors.
	workload, node []string
	// agentID is the agent all the entries name as parent (empty when
	// they name node aliases or several agents).
	agentID string
	// attestedAt is when that agent attested (zero when unknown).
	attestedAt time.Time

	// memo is the last encoding of these claims (encode.go).
	memo memo
}

// nodeRequirement is what one parent ID requires of a node.
type nodeRequirement struct {
	selectors  []string
	agentID    string
	attestedAt time.Time
}

// lookup reads the entries of id and what their parents require. parents
// keeps the parents already read (by ID), so that one refresh pass reads
// each agent or alias once however many workloads it has.
func lookup(ctx context.Context, api API, id spiffeid.ID, agentTTL time.Duration, parents map[string]*nodeRequirement) (*requirement, error) {
	entries, err := listEntries(ctx, api, id)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return &requirement{}, nil
	}
	r := &requirement{found: true}
	for i, e := range entries {
		ws := selectorStrings(e.GetSelectors())
		parentID, err := spiffeIDOf(e.GetParentId())
		if err != nil {
			return nil, fmt.Errorf("entry %s: parent: %w", e.GetId(), err)
		}
		n, ok := parents[parentID.String()]
		if !ok {
			if n, err = nodeFor(ctx, api, parentID, agentTTL); err != nil {
				return nil, err
			}
			parents[parentID.String()] = n
		}
		if i == 0 {
			r.workload, r.node, r.agentID, r.attestedAt = ws, n.selectors, n.agentID, n.attestedAt
			continue
		}
		r.workload = intersect(r.workload, ws)
		r.node = intersect(r.node, n.selectors)
		if r.agentID != n.agentID {
			r.agentID, r.attestedAt = "", time.Time{}
		}
	}
	return r, nil
}

// nodeFor returns what parent requires of a node: an agent's own selectors
// (it is that agent), or the selectors every node alias entry of that ID
// shares (an agent gets the alias when it has all of one entry's
// selectors), or nothing (another parent: a workload, for nested SPIRE; an
// agent that is gone). SPIRE's API reads agents only in the agent namespace
// (/spire/agent/...) and keeps entries out of the reserved /spire/ one, so
// the path says which to ask.
func nodeFor(ctx context.Context, api API, parent spiffeid.ID, agentTTL time.Duration) (*nodeRequirement, error) {
	if strings.HasPrefix(parent.Path(), "/spire/agent/") {
		agent, err := api.GetAgent(ctx, &agentv1.GetAgentRequest{Id: apiID(parent)})
		switch status.Code(err) {
		case codes.OK:
			return agentRequirement(agent, agentTTL), nil
		case codes.NotFound:
			return &nodeRequirement{}, nil
		default:
			return nil, fmt.Errorf("get agent %s: %w", parent, err)
		}
	}
	if strings.HasPrefix(parent.Path(), "/spire/") {
		return &nodeRequirement{}, nil
	}
	entries, err := listEntries(ctx, api, parent)
	if err != nil {
		return nil, err
	}
	server := spiffeid.RequireFromSegments(parent.TrustDomain(), "spire", "server")
	n := &nodeRequirement{}
	first := true
	for _, e := range entries {
		p, err := spiffeIDOf(e.GetParentId())
		if err != nil || p != server {
			continue
		}
		s := selectorStrings(e.GetSelectors())
		if first {
			n.selectors, first = s, false
		} else {
			n.selectors = intersect(n.selectors, s)
		}
	}
	return n, nil
}

// agentRequirement: an agent's stored selectors, and when it attested: its
// SVID's expiry minus the agent SVID lifetime, for an agent that attests
// again at every rotation (can_reattest); one that renews may have
// attested long before, so that time is left unknown.
func agentRequirement(a *types.Agent, agentTTL time.Duration) *nodeRequirement {
	n := &nodeRequirement{selectors: selectorStrings(a.GetSelectors())}
	if id, err := spiffeIDOf(a.GetId()); err == nil {
		n.agentID = id.String()
	}
	if a.GetCanReattest() && a.GetX509SvidExpiresAt() > 0 {
		n.attestedAt = time.Unix(a.GetX509SvidExpiresAt(), 0).Add(-agentTTL).UTC()
	}
	return n
}

func listEntries(ctx context.Context, api API, id spiffeid.ID) ([]*types.Entry, error) {
	var (
		out   []*types.Entry
		token string
	)
	for {
		resp, err := api.ListEntries(ctx, &entryv1.ListEntriesRequest{
			Filter:    &entryv1.ListEntriesRequest_Filter{BySpiffeId: apiID(id)},
			PageSize:  pageSize,
			PageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list entries of %s: %w", id, err)
		}
		out = append(out, resp.GetEntries()...)
		if len(out) > maxEntriesPerID {
			return nil, fmt.Errorf("list entries of %s: more than %d", id, maxEntriesPerID)
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

func apiID(id spiffeid.ID) *types.SPIFFEID {
	return &types.SPIFFEID{TrustDomain: id.TrustDomain().Name(), Path: id.Path()}
}

func spiffeIDOf(id *types.SPIFFEID) (spiffeid.ID, error) {
	if id == nil {
		return spiffeid.ID{}, errors.New("no SPIFFE ID")
	}
	td, err := spiffeid.TrustDomainFromString(id.GetTrustDomain())
	if err != nil {
		return spiffeid.ID{}, err
	}
	return spiffeid.FromPath(td, id.GetPath())
}

// selectorStrings returns the selectors as sorted, unique "type:value".
func selectorStrings(sels []*types.Selector) []string {
	out := make([]string, 0, len(sels))
	for _, s := range sels {
		out = append(out, s.GetType()+":"+s.GetValue())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// intersect returns the strings in both sorted a and b.
func intersect(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); ok {
			out = append(out, s)
		}
	}
	return out
}

// cache keeps requirements by SPIFFE ID, least recently used dropped
// first, and fetches misses once however many requests wait for them.
type cache struct {
	size int
	now  func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element
	lru   *list.List
	group singleflight.Group
}

type cacheItem struct {
	id      string
	req     *requirement
	fetched time.Time
}

func newCache(size int, now func() time.Time) *cache {
	return &cache{size: size, now: now, items: map[string]*list.Element{}, lru: list.New()}
}

// get returns the cached requirement of id when it was fetched less than
// maxAge ago.
func (c *cache) get(id string, maxAge time.Duration) (*requirement, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[id]
	if !ok {
		return nil, false
	}
	it := el.Value.(*cacheItem)
	if c.now().Sub(it.fetched) >= maxAge {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return it.req, true
}

func (c *cache) put(id string, req *requirement, fetched time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[id]; ok {
		it := el.Value.(*cacheItem)
		if fetched.After(it.fetched) {
			it.req, it.fetched = req, fetched
		}
		return
	}
	c.items[id] = c.lru.PushFront(&cacheItem{id: id, req: req, fetched: fetched})
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*cacheItem).id)
	}
}

// stale returns the IDs fetched at least interval ago.
func (c *cache) stale(interval time.Duration) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	var out []string
	for id, el := range c.items {
		if now.Sub(el.Value.(*cacheItem).fetched) >= interval {
			out = append(out, id)
		}
	}
	return out
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// fetch looks id up (once for concurrent callers, within timeout, whether
// or not the first caller gives up) and caches the answer. parents may be
// shared by the calls of one refresh pass; nil reads every parent.
func (c *cache) fetch(api API, id spiffeid.ID, agentTTL, timeout time.Duration, parents map[string]*nodeRequirement) (*requirement, error) {
	if parents == nil {
		parents = map[string]*nodeRequirement{}
	}
	v, err, _ := c.group.Do(id.String(), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		started := c.now()
		r, err := lookup(ctx, api, id, agentTTL, parents)
		if err != nil {
			return nil, err
		}
		c.put(id.String(), r, started)
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*requirement), nil
}

package nodeevents

import (
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultMemory bounds how many nodes' last policies a History remembers.
const DefaultMemory = 100000

// History remembers, per agent, the policies of its last attestation on
// this server, to tell drift (a policy lost) from a change. It is per
// server and bounded: behind a load balancer another server may have seen
// the previous attestation, and a forgotten node compares with nothing, so
// a consumer that must not miss drift also watches refusals.
type History struct{ seen *lru.Cache[string, []string] }

// NewHistory remembers up to size agents (DefaultMemory when size <= 0).
func NewHistory(size int) *History {
	if size <= 0 {
		size = DefaultMemory
	}
	c, err := lru.New[string, []string](size)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &History{seen: c}
}

// swap records the agent's policies and returns those it had, if known.
func (h *History) swap(agentID string, policies []string) (previous []string, known bool) {
	previous, known = h.seen.Get(agentID)
	h.seen.Add(agentID, slices.Clone(policies))
	return previous, known
}

// Publisher turns an attestor's outcomes into events: a log line for each
// change and a CloudEvent to every webhook. Its zero webhooks is a valid
// publisher that only logs (and remembers, for drift).
type Publisher struct {
	attestor, trustDomain string
	log                   hclog.Logger
	history               *History
	now                   func() time.Time

	mu      sync.Mutex
	senders []*sender
}

// Start makes a publisher for an attestor's events, with a sender per
// webhook. count is called per delivery outcome (webhook, result:
// delivered, failed, dropped), for metrics; it must not block.
func Start(attestor, trustDomain string, hooks []*Webhook, history *History, log hclog.Logger, count func(webhook, result string)) *Publisher {
	p := &Publisher{attestor: attestor, trustDomain: trustDomain, log: log, history: history, now: time.Now}
	for _, w := range hooks {
		p.senders = append(p.senders, startSender(w, log, count))
	}
	return p
}

// Attested publishes a successful attestation: attested, then drift (a
// policy of the previous attestation lost) or policies_changed (only
// gained).
func (p *Publisher) Attested(agentID string, policies, failed []string) {
	n := p.node(agentID)
	n.Policies, n.PoliciesFailed = policies, failed
	p.publish(TypeAttested, n)
	p.compare(n)
}

// Refusal is what an attestor knows of a refused attestation.
type Refusal struct {
	// AgentID is set when the node proved it is that agent before it was
	// refused (by a policy, typically); ClaimedAgentID when it only
	// claimed to be (see Node).
	AgentID, ClaimedAgentID string
	// Reason is the refusal's metric label, Err the refusal.
	Reason string
	Err    error
	// Evaluated says the node's policies were evaluated: Policies are
	// those it still satisfied, Failed the report-only ones it failed.
	Evaluated        bool
	Policies, Failed []string
}

// Refused publishes a refusal, then drift when a node that proved its
// identity had its policies evaluated and lost one.
func (p *Publisher) Refused(r Refusal) {
	n := p.node(r.AgentID)
	if r.AgentID == "" {
		n.ClaimedAgentID = r.ClaimedAgentID
	}
	n.Reason = r.Reason
	if r.Err != nil {
		n.Error = r.Err.Error()
	}
	if r.Evaluated {
		n.Policies, n.PoliciesFailed = r.Policies, r.Failed
	}
	p.publish(TypeRefused, n)
	if r.Evaluated {
		p.compare(n)
	}
}

func (p *Publisher) node(agentID string) Node {
	return Node{AgentID: agentID, Attestor: p.attestor, TrustDomain: p.trustDomain}
}

// compare publishes drift or policies_changed against the agent's
// previous attestation on this server.
func (p *Publisher) compare(n Node) {
	if n.AgentID == "" || p.history == nil {
		return
	}
	previous, known := p.history.swap(n.AgentID, n.Policies)
	if !known {
		return
	}
	gained, lost := Changes(previous, n.Policies)
	if len(gained) == 0 && len(lost) == 0 {
		return
	}
	c := n
	c.Reason, c.Error = "", ""
	c.Previous, c.Gained, c.Lost = previous, gained, lost
	if len(lost) > 0 {
		p.log.Warn("Node lost policies it satisfied at its previous attestation", "agent_id", n.AgentID, "lost", lost, "gained", gained)
		p.publish(TypeDrift, c)
		return
	}
	p.log.Info("Node satisfies more policies than at its previous attestation", "agent_id", n.AgentID, "gained", gained)
	p.publish(TypePoliciesChanged, c)
}

func (p *Publisher) publish(typ string, n Node) {
	p.mu.Lock()
	senders := p.senders
	p.mu.Unlock()
	if len(senders) == 0 {
		return
	}
	e, err := New(typ, n, p.now())
	if err != nil {
		p.log.Error("Node event not made", "type", typ, "error", err)
		return
	}
	for _, s := range senders {
		s.enqueue(e)
	}
}

// Close stops the senders; events still queued are dropped. Publishing
// after Close only logs.
func (p *Publisher) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	senders := p.senders
	p.senders = nil
	p.mu.Unlock()
	for _, s := range senders {
		s.close()
	}
}

package nodeevents

import (
	"sync"

	"github.com/hashicorp/go-hclog"
)

// Events is what a server-side node attestor holds: the history of its
// nodes' policies, which outlives reconfigurations, and the publisher of
// the configuration in force.
type Events struct {
	attestor string
	history  *History

	mu  sync.Mutex
	pub *Publisher
}

// NewEvents returns the events of an attestor (its plugin name), which
// publishes nothing until Configure.
func NewEvents(attestor string) *Events {
	return &Events{attestor: attestor, history: NewHistory(DefaultMemory)}
}

// Configure puts a configuration's webhooks in force: a new publisher
// replaces the previous one, whose queued events are dropped.
func (e *Events) Configure(trustDomain string, hooks []*Webhook, log hclog.Logger, count func(webhook, result string)) {
	pub := Start(e.attestor, trustDomain, hooks, e.history, log, count)
	e.mu.Lock()
	old := e.pub
	e.pub = pub
	e.mu.Unlock()
	old.Close()
}

func (e *Events) current() *Publisher {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pub
}

// Attested publishes a successful attestation (see Publisher.Attested).
func (e *Events) Attested(agentID string, policies, failed []string) {
	if p := e.current(); p != nil {
		p.Attested(agentID, policies, failed)
	}
}

// Refused publishes a refusal (see Publisher.Refused).
func (e *Events) Refused(r Refusal) {
	if p := e.current(); p != nil {
		p.Refused(r)
	}
}

// Outcome is what one attestation established about its node, filled in
// as the attestor goes, for the event Publish makes of it.
type Outcome struct {
	// AgentID is set once the node proved it is that agent.
	AgentID string
	// Evaluated says the policies were evaluated; Policies are those the
	// node satisfied.
	Evaluated bool
	Policies  []string
}

// Publish publishes the attestation's outcome: attested when err is nil,
// else refused for reason.
func (e *Events) Publish(o *Outcome, reason string, err error) {
	if err == nil {
		e.Attested(o.AgentID, o.Policies, nil)
		return
	}
	e.Refused(Refusal{AgentID: o.AgentID, Reason: reason, Err: err, Evaluated: o.Evaluated && o.AgentID != "", Policies: o.Policies})
}

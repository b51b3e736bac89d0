package nodeevents

import (
	"fmt"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
)

// Event types (CloudEvents "type"). The data of each is a Node.
const (
	// TypeAttested: the node attested; Node.Policies are those it
	// satisfied, Node.PoliciesFailed the report-only ones it failed.
	TypeAttested = "io.hwattest.node.attested.v1"
	// TypeRefused: the node's attestation was refused; Node.Reason and
	// Node.Error say why.
	TypeRefused = "io.hwattest.node.refused.v1"
	// TypePoliciesChanged: the node satisfies other policies than at its
	// previous attestation on this server, none of them lost (it gained).
	TypePoliciesChanged = "io.hwattest.node.policies_changed.v1"
	// TypeDrift: the node lost a policy it satisfied at its previous
	// attestation on this server (Node.Lost), whether it was attested
	// without it (report-only) or refused (required).
	TypeDrift = "io.hwattest.node.drift.v1"
)

// Node is the data of every event (JSON).
type Node struct {
	// AgentID is the agent's SPIFFE ID, set only when the node proved it
	// is that agent (its evidence verified: a TPM's credential activation
	// and quote, a signed SEV-SNP report, a TDX quote and key proof). It is
	// also the event's subject.
	AgentID string `json:"agent_id,omitempty"`
	// ClaimedAgentID is, on a refusal before that proof, the agent the
	// evidence claimed to be (from an EK or report anyone can copy): never
	// act on it against that node; it serves to investigate.
	ClaimedAgentID string `json:"claimed_agent_id,omitempty"`
	// Attestor is the node attestor's plugin name: tpm, sev_snp or tdx.
	Attestor string `json:"attestor"`
	// TrustDomain is the server's trust domain.
	TrustDomain string `json:"trust_domain"`
	// Policies are the policies the node satisfied (attested, drift,
	// policies_changed) or had satisfied when refused.
	Policies []string `json:"policies,omitempty"`
	// PoliciesFailed are the report-only policies the node failed, each
	// with why.
	PoliciesFailed []string `json:"policies_failed,omitempty"`
	// Previous are the policies of the node's previous attestation on this
	// server (drift, policies_changed).
	Previous []string `json:"previous_policies,omitempty"`
	// Gained and Lost compare Policies with Previous.
	Gained []string `json:"gained,omitempty"`
	Lost   []string `json:"lost,omitempty"`
	// Reason is the refusal reason, as the attestor's metric label;
	// Error its message (safe to log: it holds no nonce or secret).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Source is the CloudEvents source of an attestor's events.
func Source(attestor string) string { return "urn:hwattest:nodeattestor:" + attestor }

// New makes the CloudEvent of typ for n at t, validated.
func New(typ string, n Node, t time.Time) (event.Event, error) {
	e := event.New()
	e.SetID(uuid.NewString())
	e.SetType(typ)
	e.SetSource(Source(n.Attestor))
	e.SetSubject(n.AgentID)
	e.SetTime(t.UTC())
	if err := e.SetData(event.ApplicationJSON, n); err != nil {
		return e, fmt.Errorf("nodeevents: data: %w", err)
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("nodeevents: %w", err)
	}
	return e, nil
}

// Changes compares a node's policies with those of its previous
// attestation: what it gained and lost (sorted).
func Changes(previous, now []string) (gained, lost []string) {
	for _, p := range now {
		if !slices.Contains(previous, p) {
			gained = append(gained, p)
		}
	}
	for _, p := range previous {
		if !slices.Contains(now, p) {
			lost = append(lost, p)
		}
	}
	slices.Sort(gained)
	slices.Sort(lost)
	return gained, lost
}

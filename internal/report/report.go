package report

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
)

// SchemaVersion is the version of the JSON report's schema. It changes only
// when a field is removed or changes meaning; new fields may be added.
const SchemaVersion = 1

// Selector prefixes of the tpm node attestor (docs/nodeattestor-tpm.md).
const (
	policyPrefix       = "policy:"
	pubHashPrefix      = "pub_hash:"
	manufacturerPrefix = "manufacturer:"
	secureBootPrefix   = "secureboot:"
	tpmType            = "tpm"
)

// Secure boot states of a node.
const (
	SecureBootEnabled  = "enabled"
	SecureBootDisabled = "disabled"
	// SecureBootUnknown: the node's boot log did not establish the state
	// (or it sent none).
	SecureBootUnknown = "unknown"
)

// Parent kinds of a workload entry.
const (
	// ParentAgent: the entry's parent is one agent's ID.
	ParentAgent = "agent"
	// ParentAlias: the parent is a node alias, an entry whose parent is
	// the server: every agent with all of its selectors.
	ParentAlias = "alias"
	// ParentOther: the parent is neither (another workload, as for nested
	// SPIRE, or an agent that no longer exists).
	ParentOther = "other"
)

// Report is the compliance report, as its JSON schema shows it.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	GeneratedAt   time.Time `json:"generated_at"`
	// Levels are the policy names the report treats as levels, lowest
	// first.
	Levels      []string   `json:"levels"`
	Nodes       []Node     `json:"nodes"`
	NodeAliases []Alias    `json:"node_aliases"`
	Workloads   []Workload `json:"workloads"`
}

// Node is one attested agent.
type Node struct {
	SPIFFEID        string `json:"spiffe_id"`
	AttestationType string `json:"attestation_type"`
	// EKHash is the tpm:pub_hash selector's value (empty for other
	// attestation types).
	EKHash string `json:"ek_hash"`
	// Manufacturer is the TPM manufacturer the EK certificate certifies
	// (id:XXXXXXXX), empty when there is no validated certificate.
	Manufacturer string `json:"manufacturer"`
	SecureBoot   string `json:"secure_boot"`
	// Levels are the levels the node satisfies, in level order.
	Levels []string `json:"levels"`
	// HighestLevel is the highest level the node satisfies together with
	// every level below it (levels are cumulative), empty when it
	// satisfies none or not the lowest.
	HighestLevel string `json:"highest_level"`
	// LevelGaps are the levels the node fails below a level it satisfies:
	// its ladder has a gap (a policy of a higher level that lacks a rule
	// of a lower one), and the levels above the first gap do not count
	// towards HighestLevel.
	LevelGaps []string `json:"level_gaps"`
	// Policies are all the policies the node satisfies, levels or not,
	// sorted.
	Policies []string `json:"policies"`
	// Selectors are all of its selectors as type:value, sorted.
	Selectors []string `json:"selectors"`
	// SVIDExpiresAt is when the agent's SVID expires; the agent attests
	// again (or renews) before.
	SVIDExpiresAt *time.Time `json:"svid_expires_at"`
	SVIDSerial    string     `json:"svid_serial_number"`
	Banned        bool       `json:"banned"`
	CanReattest   bool       `json:"can_reattest"`
	// Status is "ok" (the highest level, every level below held),
	// "partial" (a lower level, or a gap in the ladder),
	// "none" (no level), "expired" (its SVID has expired: the node has no
	// identity now, and its levels are those of its last successful
	// attestation) or "banned".
	Status string `json:"status"`
}

// Alias is a node alias entry (its parent is the server).
type Alias struct {
	EntryID  string `json:"entry_id"`
	SPIFFEID string `json:"spiffe_id"`
	// Selectors are the selectors an agent must all have.
	Selectors []string `json:"selectors"`
	// RequiredPolicies are the policies among them (tpm:policy:<name>).
	RequiredPolicies []string `json:"required_policies"`
	// Nodes are the agents the alias covers now (banned and expired ones
	// left out).
	Nodes []string `json:"nodes"`
}

// Workload is a registration entry for a workload.
type Workload struct {
	EntryID   string   `json:"entry_id"`
	SPIFFEID  string   `json:"spiffe_id"`
	ParentID  string   `json:"parent_id"`
	Selectors []string `json:"selectors"`
	// ParentKind is agent, alias or other.
	ParentKind string `json:"parent_kind"`
	// RequiredPolicies are the policies a node needs to run the workload:
	// those the alias parent requires; none for an agent parent (that one
	// node, whatever its level).
	RequiredPolicies []string `json:"required_policies"`
	// RequiredLevel is the highest level among RequiredPolicies, empty
	// when it requires none.
	RequiredLevel string `json:"required_level"`
	// Nodes are the agents it may run on now (banned and expired ones left
	// out).
	Nodes []string `json:"nodes"`
}

// Node statuses.
const (
	StatusOK      = "ok"
	StatusPartial = "partial"
	StatusNone    = "none"
	StatusExpired = "expired"
	StatusBanned  = "banned"
)

// Build reads agents and entries from src and builds the report. levels are
// the policy names that are levels, lowest first; nil makes every policy a
// node satisfies a level, in name order.
func Build(ctx context.Context, src Source, levels []string, now time.Time) (*Report, error) {
	agents, err := listAgents(ctx, src)
	if err != nil {
		return nil, err
	}
	entries, err := listEntries(ctx, src)
	if err != nil {
		return nil, err
	}
	return build(agents, entries, levels, now), nil
}

func build(agents []*types.Agent, entries []*types.Entry, levels []string, now time.Time) *Report {
	r := &Report{SchemaVersion: SchemaVersion, GeneratedAt: now.UTC(), Levels: levels,
		Nodes: []Node{}, NodeAliases: []Alias{}, Workloads: []Workload{}}
	if levels == nil {
		set := map[string]bool{}
		for _, a := range agents {
			for _, s := range a.GetSelectors() {
				if s.GetType() == tpmType && strings.HasPrefix(s.GetValue(), policyPrefix) {
					set[strings.TrimPrefix(s.GetValue(), policyPrefix)] = true
				}
			}
		}
		r.Levels = sortedKeys(set)
	}
	rank := map[string]int{}
	for i, l := range r.Levels {
		rank[l] = i
	}
	// agentSelectors holds every agent, live the ones that can get SVIDs
	// now (neither banned nor expired): only those count as nodes an alias
	// covers or a workload may run on.
	agentSelectors := map[string]map[string]bool{}
	live := map[string]map[string]bool{}
	for _, a := range agents {
		n := node(a, r.Levels, now)
		r.Nodes = append(r.Nodes, n)
		set := map[string]bool{}
		for _, s := range n.Selectors {
			set[s] = true
		}
		agentSelectors[n.SPIFFEID] = set
		if n.Status != StatusBanned && n.Status != StatusExpired {
			live[n.SPIFFEID] = set
		}
	}
	sort.Slice(r.Nodes, func(i, j int) bool { return r.Nodes[i].SPIFFEID < r.Nodes[j].SPIFFEID })

	aliases := map[string]*Alias{}
	var workloads []*types.Entry
	for _, e := range entries {
		if isServer(e.GetParentId()) {
			al := Alias{EntryID: e.GetId(), SPIFFEID: idString(e.GetSpiffeId()), Selectors: selectorStrings(e.GetSelectors())}
			al.RequiredPolicies = requiredPolicies(al.Selectors)
			al.Nodes = covered(al.Selectors, live)
			r.NodeAliases = append(r.NodeAliases, al)
			continue
		}
		workloads = append(workloads, e)
	}
	sort.Slice(r.NodeAliases, func(i, j int) bool {
		return r.NodeAliases[i].SPIFFEID+"\x00"+r.NodeAliases[i].EntryID < r.NodeAliases[j].SPIFFEID+"\x00"+r.NodeAliases[j].EntryID
	})
	for i := range r.NodeAliases {
		// Several alias entries may share one ID: the workload may run on
		// a node of any of them.
		al := &r.NodeAliases[i]
		if prev, ok := aliases[al.SPIFFEID]; ok {
			merged := *prev
			merged.Nodes = union(prev.Nodes, al.Nodes)
			merged.RequiredPolicies = intersect(prev.RequiredPolicies, al.RequiredPolicies)
			aliases[al.SPIFFEID] = &merged
			continue
		}
		aliases[al.SPIFFEID] = al
	}
	for _, e := range workloads {
		w := Workload{EntryID: e.GetId(), SPIFFEID: idString(e.GetSpiffeId()), ParentID: idString(e.GetParentId()),
			Selectors: selectorStrings(e.GetSelectors()), ParentKind: ParentOther, RequiredPolicies: []string{}, Nodes: []string{}}
		if al, ok := aliases[w.ParentID]; ok {
			w.ParentKind = ParentAlias
			w.RequiredPolicies = append(w.RequiredPolicies, al.RequiredPolicies...)
			w.Nodes = append(w.Nodes, al.Nodes...)
		} else if _, ok := agentSelectors[w.ParentID]; ok {
			w.ParentKind = ParentAgent
			if _, ok := live[w.ParentID]; ok {
				w.Nodes = []string{w.ParentID}
			}
		}
		best := -1
		for _, p := range w.RequiredPolicies {
			if i, ok := rank[p]; ok && i > best {
				best = i
				w.RequiredLevel = p
			}
		}
		r.Workloads = append(r.Workloads, w)
	}
	sort.Slice(r.Workloads, func(i, j int) bool {
		return r.Workloads[i].SPIFFEID+"\x00"+r.Workloads[i].EntryID < r.Workloads[j].SPIFFEID+"\x00"+r.Workloads[j].EntryID
	})
	return r
}

func node(a *types.Agent, levels []string, now time.Time) Node {
	n := Node{SPIFFEID: idString(a.GetId()), AttestationType: a.GetAttestationType(), SecureBoot: SecureBootUnknown,
		SVIDSerial: a.GetX509SvidSerialNumber(), Banned: a.GetBanned(), CanReattest: a.GetCanReattest(),
		Levels: []string{}, LevelGaps: []string{}, Policies: []string{}, Selectors: selectorStrings(a.GetSelectors())}
	if exp := a.GetX509SvidExpiresAt(); exp != 0 {
		t := time.Unix(exp, 0).UTC()
		n.SVIDExpiresAt = &t
	}
	satisfied := map[string]bool{}
	for _, s := range a.GetSelectors() {
		if s.GetType() != tpmType {
			continue
		}
		v := s.GetValue()
		switch {
		case strings.HasPrefix(v, policyPrefix):
			satisfied[strings.TrimPrefix(v, policyPrefix)] = true
		case strings.HasPrefix(v, pubHashPrefix):
			n.EKHash = strings.TrimPrefix(v, pubHashPrefix)
		case strings.HasPrefix(v, manufacturerPrefix):
			n.Manufacturer = strings.TrimPrefix(v, manufacturerPrefix)
		case strings.HasPrefix(v, secureBootPrefix):
			n.SecureBoot = strings.TrimPrefix(v, secureBootPrefix)
		}
	}
	n.Policies = sortedKeys(satisfied)
	// A level counts only when every level below it holds: the highest
	// level is the top of the unbroken run from the lowest, and a failed
	// level below a satisfied one is a gap.
	unbroken := true
	var missing []string
	for _, l := range levels {
		if !satisfied[l] {
			unbroken = false
			missing = append(missing, l)
			continue
		}
		n.Levels = append(n.Levels, l)
		if unbroken {
			n.HighestLevel = l
		}
		n.LevelGaps = append(n.LevelGaps, missing...)
		missing = nil
	}
	switch {
	case n.Banned:
		n.Status = StatusBanned
	case n.SVIDExpiresAt != nil && !now.Before(*n.SVIDExpiresAt):
		n.Status = StatusExpired
	case len(levels) > 0 && n.HighestLevel == levels[len(levels)-1]:
		n.Status = StatusOK
	case n.HighestLevel != "":
		n.Status = StatusPartial
	default:
		n.Status = StatusNone
	}
	return n
}

// requiredPolicies are the policy names among tpm selectors.
func requiredPolicies(selectors []string) []string {
	out := []string{}
	for _, s := range selectors {
		if v, ok := strings.CutPrefix(s, tpmType+":"+policyPrefix); ok {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// covered are the agents that have every selector of an alias.
func covered(selectors []string, agents map[string]map[string]bool) []string {
	out := []string{}
	for id, have := range agents {
		all := len(selectors) > 0
		for _, s := range selectors {
			if !have[s] {
				all = false
				break
			}
		}
		if all {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func isServer(id *types.SPIFFEID) bool {
	return id.GetPath() == "/spire/server"
}

func idString(id *types.SPIFFEID) string {
	if id == nil {
		return ""
	}
	return "spiffe://" + id.GetTrustDomain() + id.GetPath()
}

func selectorStrings(sels []*types.Selector) []string {
	out := make([]string, 0, len(sels))
	for _, s := range sels {
		out = append(out, s.GetType()+":"+s.GetValue())
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func union(a, b []string) []string {
	out := slices.Concat(a, b)
	sort.Strings(out)
	return slices.Compact(out)
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

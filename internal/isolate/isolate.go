package isolate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/hashicorp/go-hclog"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/hwattest/hwattest/internal/nodeevents"
)

// DefaultTaint is the taint of a failed node.
var DefaultTaint = corev1.Taint{Key: "hwattest.io/attestation", Value: "failed", Effect: corev1.TaintEffectNoExecute}

// Mode says what the controller does with its decisions.
type Mode string

// Modes.
const (
	// ReportOnly logs each node that would be tainted or untainted.
	ReportOnly Mode = "report-only"
	// DryRun prints the changes it would make and makes none.
	DryRun Mode = "dry-run"
	// Enforce taints and untaints nodes.
	Enforce Mode = "enforce"
)

// Agents is the part of SPIRE's agent API the controller reads.
type Agents interface {
	ListAgents(ctx context.Context, req *agentv1.ListAgentsRequest, opts ...grpc.CallOption) (*agentv1.ListAgentsResponse, error)
}

// Config is the controller's configuration.
type Config struct {
	Mode  Mode
	Taint corev1.Taint
	// RequiredPolicies are policy names whose "policy:<name>" selector a
	// node's agent must have (under any attestor).
	RequiredPolicies []string
	// MaxTainted bounds the managed nodes tainted at once, as a fraction
	// (0-1] of them; more failures than that change nothing and are
	// logged, since they say more about SPIRE than about the nodes.
	MaxTainted float64
	// Out receives dry-run lines.
	Out io.Writer
	// Bindings names each managed node's agent (NewBindings); a node it
	// does not name is left alone.
	Bindings Bindings
	// Marks keeps the refusals acted on beyond this process (NewMarks);
	// nil keeps them in memory only, so a restarted controller forgets
	// them and judges refused nodes by SPIRE's agent list alone.
	Marks Marks
}

// Controller decides and applies.
type Controller struct {
	cfg    Config
	agents Agents
	nodes  Nodes
	log    hclog.Logger
	now    func() time.Time

	mu       sync.Mutex
	pending  map[string]refusal   // agent ID -> refusal not yet made a mark
	attested map[string]time.Time // agent ID -> its latest attested event with every required policy
	marks    map[string]Mark      // node -> mark, when cfg.Marks is nil
}

// refusal is a refused or drift event, until the next reconciliation makes
// it a mark on the agent's node.
type refusal struct {
	why string
	at  time.Time
}

// New returns a controller.
func New(cfg Config, agents Agents, nodes Nodes, log hclog.Logger) *Controller {
	if cfg.Taint.Key == "" {
		cfg.Taint = DefaultTaint
	}
	if cfg.MaxTainted <= 0 || cfg.MaxTainted > 1 {
		cfg.MaxTainted = 0.5
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	return &Controller{cfg: cfg, agents: agents, nodes: nodes, log: log, now: time.Now,
		pending: map[string]refusal{}, attested: map[string]time.Time{}, marks: map[string]Mark{}}
}

// HandleEvent takes a node event: a refusal or drift of an agent that proved
// its identity marks its node failed until the agent attests again (an
// attested event with every required policy, or a new SVID in SPIRE's
// list). Events without a subject (the agent was only claimed) are
// ignored: anyone could have sent that EK.
func (c *Controller) HandleEvent(e event.Event) {
	agent := e.Subject()
	if agent == "" {
		return
	}
	var n nodeevents.Node
	if err := e.DataAs(&n); err != nil || n.AgentID != agent {
		c.log.Warn("Node event ignored: its data does not name its subject", "type", e.Type(), "subject", agent)
		return
	}
	c.log.Info("Node event received", "type", e.Type(), "agent_id", agent, "reason", n.Reason)
	c.mu.Lock()
	defer c.mu.Unlock()
	at := e.Time()
	switch e.Type() {
	case nodeevents.TypeRefused:
		c.pending[agent] = refusal{fmt.Sprintf("refused at %s (%s): %s", at.UTC().Format(time.RFC3339), n.Reason, n.Error), at}
	case nodeevents.TypeDrift:
		if lost := c.requiredIn(n.Lost); len(lost) > 0 {
			c.pending[agent] = refusal{fmt.Sprintf("lost required policies %s at %s", strings.Join(lost, ", "), at.UTC().Format(time.RFC3339)), at}
		}
	case nodeevents.TypeAttested:
		if len(c.requiredIn(n.Policies)) == len(c.cfg.RequiredPolicies) {
			if p, ok := c.pending[agent]; ok && !at.Before(p.at) {
				delete(c.pending, agent)
			}
			if at.After(c.attested[agent]) {
				c.attested[agent] = at
			}
		}
	}
}

func (c *Controller) requiredIn(policies []string) []string {
	var out []string
	for _, p := range c.cfg.RequiredPolicies {
		if slices.Contains(policies, p) {
			out = append(out, p)
		}
	}
	return out
}

// Decision is the controller's view of one managed node.
type Decision struct {
	Node, AgentID string
	// Failed says the node must be tainted; Reason why.
	Failed bool
	Reason string
	// Tainted says the node carries the taint now.
	Tainted bool

	serial string // the agent's SVID serial number, when listed
}

// Reconcile reads SPIRE's agents and the nodes, decides, and applies what
// the mode allows. It changes nothing when SPIRE's agents cannot be read.
func (c *Controller) Reconcile(ctx context.Context) ([]Decision, error) {
	agents, err := c.listAgents(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := c.nodes.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("isolate: list nodes: %w", err)
	}
	var bindings map[string]string
	if c.cfg.Bindings != nil {
		if bindings, err = c.cfg.Bindings.Load(ctx); err != nil {
			return nil, fmt.Errorf("%w (nothing changed)", err)
		}
	}
	marks := map[string]Mark{}
	if c.cfg.Marks != nil {
		if marks, err = c.cfg.Marks.Load(ctx); err != nil {
			return nil, fmt.Errorf("%w (nothing changed)", err)
		}
	}
	c.mu.Lock()
	if !c.storesMarks() {
		maps.Copy(marks, c.marks)
	}
	c.mu.Unlock()
	decisions, changes, consumed := c.decide(nodes, bindings, agents, marks)
	// The taints go on even when the marks cannot be kept (the ConfigMap
	// full or unwritable): isolating the node matters more than
	// remembering why; the refusals stay pending and are kept next time.
	var errs []error
	if err := c.storeMarks(ctx, changes); err != nil {
		errs = append(errs, err)
	} else {
		c.mu.Lock()
		for id, at := range consumed {
			if p, ok := c.pending[id]; ok && p.at.Equal(at) {
				delete(c.pending, id)
			}
		}
		c.mu.Unlock()
	}
	failed := 0
	for _, d := range decisions {
		if d.Failed {
			failed++
		}
	}
	limit := int(c.cfg.MaxTainted * float64(len(decisions)))
	overLimit := failed > max(limit, 1)
	if overLimit {
		c.log.Error("Not tainting: more managed nodes failed than max_tainted allows; check SPIRE before the nodes", "failed", failed, "managed", len(decisions), "max_tainted", limit)
	}
	var fresh map[string]Mark
	for _, d := range decisions {
		switch {
		case d.Failed && !d.Tainted && !overLimit:
			errs = append(errs, c.apply(ctx, d, true))
		case !d.Failed && d.Tainted:
			// Another controller (beside another SPIRE server) may have
			// marked the node since the marks were read: read them again
			// before lifting a taint.
			if c.storesMarks() && fresh == nil {
				if fresh, err = c.cfg.Marks.Load(ctx); err != nil {
					errs = append(errs, fmt.Errorf("%w (no taint lifted)", err))
					return decisions, errors.Join(errs...)
				}
			}
			if m, ok := fresh[d.Node]; ok && c.holds(m, d.AgentID, d.serial) {
				continue
			}
			errs = append(errs, c.apply(ctx, d, false))
		}
	}
	return decisions, errors.Join(errs...)
}

func (c *Controller) listAgents(ctx context.Context) (map[string]*types.Agent, error) {
	out := map[string]*types.Agent{}
	token := ""
	for range 100000 {
		resp, err := c.agents.ListAgents(ctx, &agentv1.ListAgentsRequest{PageSize: 500, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("isolate: list SPIRE agents (nothing changed): %w", err)
		}
		for _, a := range resp.GetAgents() {
			if id := a.GetId(); id != nil {
				out[fmt.Sprintf("spiffe://%s%s", id.GetTrustDomain(), id.GetPath())] = a
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
	return nil, errors.New("isolate: list SPIRE agents: too many pages")
}

// storesMarks says the marks are kept in cfg.Marks: in enforce mode. In
// the other modes, which change nothing outside, they are kept in memory
// over those cfg.Marks holds.
func (c *Controller) storesMarks() bool { return c.cfg.Marks != nil && c.cfg.Mode == Enforce }

// storeMarks keeps the marks' changes.
func (c *Controller) storeMarks(ctx context.Context, changes map[string]*Mark) error {
	if !c.storesMarks() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for node, m := range changes {
			if m == nil {
				delete(c.marks, node)
			} else {
				c.marks[node] = *m
			}
		}
		return nil
	}
	if err := c.cfg.Marks.Store(ctx, changes); err != nil {
		return fmt.Errorf("%w (refusals not recorded; taints applied)", err)
	}
	return nil
}

// decide judges each managed node and returns the changes to the marks (a
// refusal event becomes its node's mark; a mark whose agent attested since,
// with a new SVID serial or a later attested event, goes) and the refusal
// events it consumed, to forget once the changes are kept.
func (c *Controller) decide(nodes []corev1.Node, bindings map[string]string, agents map[string]*types.Agent, marks map[string]Mark) ([]Decision, map[string]*Mark, map[string]time.Time) {
	claims := map[string][]string{} // agent ID -> nodes bound to it
	for _, n := range nodes {
		if id := bindings[n.Name]; id != "" {
			claims[id] = append(claims[id], n.Name)
		}
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	changes := map[string]*Mark{}
	managed := map[string]bool{}
	var out []Decision
	for _, n := range nodes {
		id := bindings[n.Name]
		if id == "" {
			continue
		}
		managed[n.Name] = true
		d := Decision{Node: n.Name, AgentID: id, Tainted: hasTaint(n, c.cfg.Taint)}
		a := agents[id]
		d.serial = a.GetX509SvidSerialNumber()
		mark, marked := marks[n.Name]
		if p, ok := c.pending[id]; ok && a != nil && (!marked || mark.AgentID != id || p.at.After(mark.At)) {
			mark, marked = Mark{AgentID: id, Serial: d.serial, At: p.at, Reason: p.why}, true
			changes[n.Name] = &mark
		}
		if marked && (a == nil || !c.holdsLocked(mark, id, d.serial)) {
			marked = false
			changes[n.Name] = nil
		}
		switch {
		case !strings.HasPrefix(id, "spiffe://"):
			d.Failed, d.Reason = true, fmt.Sprintf("bound to %q, not an agent's SPIFFE ID", id)
		case len(claims[id]) > 1:
			d.Failed, d.Reason = true, "agent ID also bound to "+strings.Join(slices.DeleteFunc(slices.Clone(claims[id]), func(s string) bool { return s == n.Name }), ", ")
		case a == nil:
			d.Failed, d.Reason = true, "agent not in SPIRE's list (never attested, or evicted)"
		case a.GetBanned():
			d.Failed, d.Reason = true, "agent banned"
		case a.GetX509SvidExpiresAt() != 0 && time.Unix(a.GetX509SvidExpiresAt(), 0).Before(now):
			d.Failed, d.Reason = true, "agent SVID expired at "+time.Unix(a.GetX509SvidExpiresAt(), 0).UTC().Format(time.RFC3339)+" (it stopped re-attesting)"
		case marked:
			d.Failed, d.Reason = true, mark.Reason
		default:
			if missing := missingPolicies(a, c.cfg.RequiredPolicies); len(missing) > 0 {
				d.Failed, d.Reason = true, "agent lacks required policies "+strings.Join(missing, ", ")
			} else {
				d.Reason = "attested"
			}
		}
		out = append(out, d)
	}
	// Refusals of agents no managed node names, and marks of nodes no
	// longer managed, are dropped.
	consumed := make(map[string]time.Time, len(c.pending))
	for id, p := range c.pending {
		consumed[id] = p.at
	}
	for node := range marks {
		if !managed[node] {
			changes[node] = nil
		}
	}
	for id := range c.attested {
		if _, ok := claims[id]; !ok {
			delete(c.attested, id)
		}
	}
	for node, m := range changes {
		if m == nil {
			if _, ok := marks[node]; !ok {
				delete(changes, node)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, changes, consumed
}

// holds says mark still fails agent id, whose SVID serial is now serial:
// the agent keeps the SVID it was refused with, and no attested event
// came after the refusal.
func (c *Controller) holds(m Mark, id, serial string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holdsLocked(m, id, serial)
}

func (c *Controller) holdsLocked(m Mark, id, serial string) bool {
	return m.AgentID == id && m.Serial == serial && !c.attested[id].After(m.At)
}

func missingPolicies(a *types.Agent, required []string) []string {
	var missing []string
	for _, p := range required {
		if !slices.ContainsFunc(a.GetSelectors(), func(s *types.Selector) bool { return s.GetValue() == "policy:"+p }) {
			missing = append(missing, p)
		}
	}
	return missing
}

func hasTaint(n corev1.Node, t corev1.Taint) bool {
	return slices.ContainsFunc(n.Spec.Taints, func(x corev1.Taint) bool { return x.Key == t.Key && x.Effect == t.Effect })
}

// apply taints (add) or untaints a node as the mode allows.
func (c *Controller) apply(ctx context.Context, d Decision, add bool) error {
	verb := "untaint"
	if add {
		verb = "taint"
	}
	switch c.cfg.Mode {
	case DryRun:
		fmt.Fprintf(c.cfg.Out, "would %s node %s (%s): %s\n", verb, d.Node, d.AgentID, d.Reason)
		return nil
	case Enforce:
	default:
		c.log.Warn("Report-only: would "+verb+" node", "node", d.Node, "agent_id", d.AgentID, "reason", d.Reason)
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.nodes.Get(ctx, d.Node)
		if err != nil {
			return err
		}
		taints := slices.DeleteFunc(slices.Clone(n.Spec.Taints), func(x corev1.Taint) bool {
			return x.Key == c.cfg.Taint.Key && x.Effect == c.cfg.Taint.Effect
		})
		if add {
			t := c.cfg.Taint
			now := metav1.NewTime(c.now())
			t.TimeAdded = &now
			taints = append(taints, t)
		}
		n.Spec.Taints = taints
		return c.nodes.Update(ctx, n)
	})
	if err != nil {
		return fmt.Errorf("isolate: %s node %s: %w", verb, d.Node, err)
	}
	if add {
		c.log.Warn("Node tainted: its agent failed attestation", "node", d.Node, "agent_id", d.AgentID, "reason", d.Reason, "taint", c.cfg.Taint.ToString())
	} else {
		c.log.Info("Node untainted: its agent attests again", "node", d.Node, "agent_id", d.AgentID)
	}
	return nil
}

package isolate_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/hwattest/hwattest/internal/isolate"
	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/nodeevents"
)

// fakeAgents is SPIRE's agent list, one agent per page.
type fakeAgents struct {
	agents []*types.Agent
	err    error
}

func (f *fakeAgents) ListAgents(_ context.Context, req *agentv1.ListAgentsRequest, _ ...grpc.CallOption) (*agentv1.ListAgentsResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	i := 0
	if req.PageToken != "" {
		i = int(req.PageToken[0] - 'a')
	}
	if i >= len(f.agents) {
		return &agentv1.ListAgentsResponse{}, nil
	}
	resp := &agentv1.ListAgentsResponse{Agents: f.agents[i : i+1]}
	if i+1 < len(f.agents) {
		resp.NextPageToken = string(rune('a' + i + 1))
	}
	return resp, nil
}

func agentID(n string) string { return "spiffe://example.org/spire/agent/tpm/" + n }

func agent(n string, expires time.Time, banned bool, policies ...string) *types.Agent {
	a := &types.Agent{Id: &types.SPIFFEID{TrustDomain: "example.org", Path: "/spire/agent/tpm/" + n}, X509SvidExpiresAt: expires.Unix(), Banned: banned}
	for _, p := range policies {
		a.Selectors = append(a.Selectors, &types.Selector{Type: "tpm", Value: "policy:" + p})
	}
	return a
}

// testBinding is where node keeps the agent a test binds the node to;
// newKube moves it into the bindings ConfigMap.
const testBinding = "test.hwattest.io/agent"

func node(name, agent string, taints ...corev1.Taint) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints}}
	switch {
	case strings.HasPrefix(agent, "="): // bound to exactly that
		n.Annotations = map[string]string{testBinding: agent[1:]}
	case agent != "":
		n.Annotations = map[string]string{testBinding: agentID(agent)}
	}
	return n
}

// kube is a fake API server (client-go's dynamic fake, with the core v1
// scheme) holding nodes, the bindings ConfigMap spire/hwattest-isolate-nodes
// and an empty spire/hwattest-isolate-state, behind the controller's
// interfaces.
type kube struct {
	api      *dynamicfake.FakeDynamicClient
	nodes    isolate.Nodes
	bindings isolate.Bindings
	marks    isolate.Marks
}

func newKube(t *testing.T, nodes ...*corev1.Node) *kube {
	t.Helper()
	bound := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "hwattest-isolate-nodes"}, Data: map[string]string{}}
	objs := []runtime.Object{bound, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "hwattest-isolate-state"}}}
	for _, n := range nodes {
		if id := n.Annotations[testBinding]; id != "" {
			bound.Data[n.Name] = id
			n.Annotations = nil
		}
		objs = append(objs, n)
	}
	api := newFakeAPI(t, objs...)
	return &kube{api: api, nodes: isolate.NewNodes(api), bindings: isolate.NewBindings(api, "spire", "hwattest-isolate-nodes"),
		marks: isolate.NewMarks(api, "spire", "hwattest-isolate-state")}
}

// controller is a controller on k with cfg (and k's bindings).
func (k *kube) controller(cfg isolate.Config, agents isolate.Agents, log hclog.Logger) *isolate.Controller {
	cfg.Bindings = k.bindings
	return isolate.New(cfg, agents, k.nodes, log)
}

func newFakeAPI(t *testing.T, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return dynamicfake.NewSimpleDynamicClient(scheme, objs...)
}

func tainted(t *testing.T, k *kube) map[string]bool {
	t.Helper()
	nodes, err := k.nodes.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range nodes {
		for _, x := range n.Spec.Taints {
			if x.Key == isolate.DefaultTaint.Key && x.Effect == isolate.DefaultTaint.Effect {
				out[n.Name] = true
			}
		}
	}
	return out
}

func names(m map[string]bool) string {
	var out []string
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// TestDecisions: each way a node fails, and the healthy and unmanaged
// nodes, in enforce mode; the taint comes off a node that attests again.
func TestDecisions(t *testing.T) {
	later, earlier := time.Now().Add(time.Hour), time.Now().Add(-time.Minute)
	spire := &fakeAgents{agents: []*types.Agent{
		agent("good", later, false, "level3"),
		agent("banned", later, true, "level3"),
		agent("expired", earlier, false, "level3"),
		agent("level1", later, false, "level1"),
		agent("twice", later, false, "level3"),
	}}
	kube := newKube(t,
		node("n-good", "good", isolate.DefaultTaint), // tainted before: comes off
		node("n-missing", "missing"),
		node("n-banned", "banned"),
		node("n-expired", "expired"),
		node("n-level1", "level1"),
		node("n-twice-a", "twice"), node("n-twice-b", "twice"),
		node("n-unmanaged", ""),
		node("n-bad", "=node-7"),
		// An annotation on the Node, which its kubelet may write, binds
		// nothing.
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n-annotated", Annotations: map[string]string{"hwattest.io/agent-id": agentID("missing")}}},
	)
	var logs logbuf.Buffer
	c := kube.controller(isolate.Config{Mode: isolate.Enforce, RequiredPolicies: []string{"level3"}, MaxTainted: 1}, spire, hclog.New(&hclog.LoggerOptions{Output: &logs}))
	ds, err := c.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, d := range ds {
		reasons[d.Node] = d.Reason
	}
	for n, want := range map[string]string{
		"n-good":    "attested",
		"n-missing": "agent not in SPIRE's list (never attested, or evicted)",
		"n-banned":  "agent banned",
		"n-level1":  "agent lacks required policies level3",
		"n-twice-a": "agent ID also bound to n-twice-b",
		"n-bad":     `bound to "node-7", not an agent's SPIFFE ID`,
	} {
		if reasons[n] != want {
			t.Errorf("%s: %q, want %q", n, reasons[n], want)
		}
	}
	if !strings.HasPrefix(reasons["n-expired"], "agent SVID expired at ") || len(ds) != 8 {
		t.Errorf("decisions %+v", ds)
	}
	if got := names(tainted(t, kube)); got != "n-bad n-banned n-expired n-level1 n-missing n-twice-a n-twice-b" {
		t.Errorf("tainted: %s", got)
	}
	if !strings.Contains(logs.String(), "Node untainted: its agent attests again: node=n-good") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestEvents: a refusal of an agent that proved its identity taints its
// node at the next round; an attested event with the required policies
// clears it; a refusal that only claims the agent changes nothing.
func TestEvents(t *testing.T) {
	spire := &fakeAgents{agents: []*types.Agent{agent("a", time.Now().Add(time.Hour), false, "level3"), agent("b", time.Now().Add(time.Hour), false, "level3")}}
	kube := newKube(t, node("n-a", "a"), node("n-b", "b"))
	c := kube.controller(isolate.Config{Mode: isolate.Enforce, RequiredPolicies: []string{"level3"}, MaxTainted: 1}, spire, hclog.NewNullLogger())
	ev := func(typ, subject string, n nodeevents.Node) {
		t.Helper()
		e, err := nodeevents.New(typ, n, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.SetSubject(subject)
		c.HandleEvent(e)
	}
	ev(nodeevents.TypeRefused, agentID("a"), nodeevents.Node{AgentID: agentID("a"), Attestor: "tpm", Reason: "policy", Error: `policy "level3": pcr 7 differs`})
	ev(nodeevents.TypeRefused, "", nodeevents.Node{ClaimedAgentID: agentID("b"), Attestor: "tpm", Reason: "ek_denied"})
	if _, err := c.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := names(tainted(t, kube)); got != "n-a" {
		t.Fatalf("after the refusals: tainted %s", got)
	}
	ev(nodeevents.TypeAttested, agentID("a"), nodeevents.Node{AgentID: agentID("a"), Attestor: "tpm", Policies: []string{"genuine"}})
	c.Reconcile(context.Background())
	if got := names(tainted(t, kube)); got != "n-a" {
		t.Fatalf("attested without level3: tainted %s", got)
	}
	ev(nodeevents.TypeAttested, agentID("a"), nodeevents.Node{AgentID: agentID("a"), Attestor: "tpm", Policies: []string{"genuine", "level3"}})
	c.Reconcile(context.Background())
	if got := names(tainted(t, kube)); got != "none" {
		t.Fatalf("attested at level3: tainted %s", got)
	}
}

// TestFailsSafe: SPIRE's API down changes nothing; more failures than
// max_tainted change nothing; report-only and dry-run change nothing.
func TestFailsSafe(t *testing.T) {
	kube := newKube(t, node("n-a", "a"), node("n-b", "b"), node("n-c", "c", isolate.DefaultTaint))
	var logs logbuf.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs})
	down := &fakeAgents{err: status.Error(codes.Unavailable, "connection refused")}
	if _, err := kube.controller(isolate.Config{Mode: isolate.Enforce}, down, log).Reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("SPIRE down: %v", err)
	}
	// The bindings unreadable: nothing changes.
	noBindings := isolate.Config{Mode: isolate.Enforce, MaxTainted: 1, Bindings: isolate.NewBindings(kube.api, "spire", "missing")}
	if _, err := isolate.New(noBindings, &fakeAgents{}, kube.nodes, log).Reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("bindings unreadable: %v", err)
	}
	empty := &fakeAgents{} // every agent missing: 3 of 3 failed
	if _, err := kube.controller(isolate.Config{Mode: isolate.Enforce, MaxTainted: 0.5}, empty, log).Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := names(tainted(t, kube)); got != "n-c" || !strings.Contains(logs.String(), "Not tainting: more managed nodes failed than max_tainted allows") {
		t.Errorf("over max_tainted: tainted %s\n%s", got, logs.String())
	}
	var out bytes.Buffer
	if _, err := kube.controller(isolate.Config{Mode: isolate.DryRun, MaxTainted: 1, Out: &out}, empty, log).Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := "would taint node n-a (" + agentID("a") + "): agent not in SPIRE's list (never attested, or evicted)\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("dry run printed:\n%s", out.String())
	}
	kube.controller(isolate.Config{Mode: isolate.ReportOnly, MaxTainted: 1}, empty, log).Reconcile(context.Background())
	if got := names(tainted(t, kube)); got != "n-c" || !strings.Contains(logs.String(), "Report-only: would taint node: node=n-a") {
		t.Errorf("report-only: tainted %s\n%s", got, logs.String())
	}
}

// TestHandler: the webhook takes node events with the bearer token and
// refuses everything else with a clear status.
func TestHandler(t *testing.T) {
	c := newKube(t).controller(isolate.Config{}, &fakeAgents{}, hclog.NewNullLogger())
	kicks := 0
	srv := httptest.NewServer(c.Handler("tok", func() { kicks++ }))
	defer srv.Close()
	e, _ := nodeevents.New(nodeevents.TypeRefused, nodeevents.Node{AgentID: agentID("a"), Attestor: "tpm"}, time.Now())
	good, _ := e.MarshalJSON()
	post := func(auth, ct string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name, auth, ct string
		body           []byte
		want           int
	}{
		{"no token", "", nodeevents.ContentType, good, http.StatusUnauthorized},
		{"wrong token", "Bearer tok2", nodeevents.ContentType, good, http.StatusUnauthorized},
		{"wrong type", "Bearer tok", "application/json", good, http.StatusUnsupportedMediaType},
		{"too large", "Bearer tok", nodeevents.ContentType, bytes.Repeat([]byte(" "), isolate.MaxEventSize+1), http.StatusRequestEntityTooLarge},
		{"not an event", "Bearer tok", nodeevents.ContentType, []byte(`{"specversion":"1.0"}`), http.StatusBadRequest},
		{"good", "Bearer tok", nodeevents.ContentType, good, http.StatusAccepted},
	} {
		if got := post(tc.auth, tc.ct, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if kicks != 1 {
		t.Errorf("%d reconciliations started, want 1", kicks)
	}
	if _, err := isolate.ParseEvent([]byte(`{"specversion":"1.0","id":"1","source":"x","type":"com.example.other"}`)); err == nil || !strings.Contains(err.Error(), "not a node event") {
		t.Errorf("foreign event type: %v", err)
	}
}

// TestMarksOutliveTheController: a refusal the controller acted on is kept
// in its ConfigMap, so a restarted controller (or one beside another SPIRE
// server, which never saw the event) keeps the node isolated while the
// agent holds the SVID it was refused with; a new SVID (it attested again,
// wherever) or a later attested event ends it.
func TestMarksOutliveTheController(t *testing.T) {
	kube := newKube(t, node("n-a", "a"), node("n-b", "b"))
	marks := kube.marks
	a, b := agent("a", time.Now().Add(time.Hour), false, "level3"), agent("b", time.Now().Add(time.Hour), false, "level3")
	a.X509SvidSerialNumber, b.X509SvidSerialNumber = "1001", "2001"
	spire := &fakeAgents{agents: []*types.Agent{a, b}}
	cfg := isolate.Config{Mode: isolate.Enforce, RequiredPolicies: []string{"level3"}, MaxTainted: 1, Marks: marks}
	refuse := func(c *isolate.Controller, at time.Time) {
		t.Helper()
		e, err := nodeevents.New(nodeevents.TypeRefused, nodeevents.Node{AgentID: agentID("a"), Attestor: "tpm", Reason: "eventlog_replay", Error: "event log does not replay"}, at)
		if err != nil {
			t.Fatal(err)
		}
		e.SetSubject(agentID("a"))
		c.HandleEvent(e)
	}
	reconcile := func(c *isolate.Controller) []isolate.Decision {
		t.Helper()
		ds, err := c.Reconcile(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	stored := func() string {
		t.Helper()
		m, err := marks.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for node, mk := range m {
			out = append(out, node+"@"+mk.Serial)
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}

	first := kube.controller(cfg, spire, hclog.NewNullLogger())
	refuse(first, time.Now())
	reconcile(first)
	if got, marked := names(tainted(t, kube)), stored(); got != "n-a" || marked != "n-a@1001" {
		t.Fatalf("after the refusal: tainted %s, marks %q", got, marked)
	}

	// Restarted: no event in memory, the mark keeps n-a failed.
	restarted := kube.controller(cfg, spire, hclog.NewNullLogger())
	ds := reconcile(restarted)
	if got := names(tainted(t, kube)); got != "n-a" || !ds[0].Failed || !strings.Contains(ds[0].Reason, "eventlog_replay") {
		t.Fatalf("restarted controller: tainted %s, decision %+v", got, ds[0])
	}
	// A report-only controller (hwattest isolate --once) reads the mark too.
	if ds := reconcile(kube.controller(isolate.Config{Mode: isolate.ReportOnly, RequiredPolicies: []string{"level3"}, Marks: marks}, spire, hclog.NewNullLogger())); !ds[0].Failed {
		t.Errorf("report-only controller: %+v", ds[0])
	}

	// A controller beside another server read the marks just before the
	// first one marked the node (its first read is empty): it reads them
	// again before lifting the taint, and leaves it.
	lateCfg := cfg
	lateCfg.Marks = &staleOnce{Marks: marks}
	reconcile(kube.controller(lateCfg, spire, hclog.NewNullLogger()))
	if got := names(tainted(t, kube)); got != "n-a" {
		t.Fatalf("controller with a stale read of the marks: tainted %s", got)
	}

	// The agent attested again on another server: new SVID serial.
	a.X509SvidSerialNumber = "1002"
	reconcile(restarted)
	if got, marked := names(tainted(t, kube)), stored(); got != "none" || marked != "" {
		t.Fatalf("after a new SVID: tainted %s, marks %q", got, marked)
	}

	// Refused again, then an attested event that comes before SPIRE's list
	// shows the new SVID: the event ends the mark.
	refuse(restarted, time.Now())
	reconcile(restarted)
	if got := names(tainted(t, kube)); got != "n-a" {
		t.Fatalf("second refusal: tainted %s", got)
	}
	e, err := nodeevents.New(nodeevents.TypeAttested, nodeevents.Node{AgentID: agentID("a"), Attestor: "tpm", Policies: []string{"level3"}}, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	e.SetSubject(agentID("a"))
	restarted.HandleEvent(e)
	reconcile(restarted)
	if got, marked := names(tainted(t, kube)), stored(); got != "none" || marked != "" {
		t.Fatalf("after the attested event: tainted %s, marks %q", got, marked)
	}

	// A value it did not write is no mark.
	state := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "spire", Name: "hwattest-isolate-state"}, Data: map[string]string{"n-b": `{"agent_id":`}}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(state)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	if _, err := kube.api.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("spire").Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != "" {
		t.Errorf("malformed value read as a mark: %q", got)
	}

	// The marks cannot be written: the node is tainted all the same, and
	// the refusal is kept once they can.
	broken := kube.controller(isolate.Config{Mode: isolate.Enforce, MaxTainted: 1, Marks: &unwritable{Marks: marks}}, spire, hclog.NewNullLogger())
	refuse(broken, time.Now())
	if _, err := broken.Reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "refusals not recorded; taints applied") {
		t.Errorf("marks unwritable: %v", err)
	}
	if got, marked := names(tainted(t, kube)), stored(); got != "n-a" || marked != "" {
		t.Fatalf("marks unwritable: tainted %s, marks %q", got, marked)
	}
	fixed := kube.controller(isolate.Config{Mode: isolate.Enforce, MaxTainted: 1, Marks: marks}, spire, hclog.NewNullLogger())
	refuse(fixed, time.Now())
	reconcile(fixed)
	a.X509SvidSerialNumber = "1003"
	reconcile(fixed)
	if got, marked := names(tainted(t, kube)), stored(); got != "none" || marked != "" {
		t.Fatalf("after a new SVID: tainted %s, marks %q", got, marked)
	}

	// The ConfigMap missing: nothing changes, and the refusal waits.
	gone := kube.controller(isolate.Config{Mode: isolate.Enforce, MaxTainted: 1, Marks: isolate.NewMarks(kube.api, "spire", "missing")}, spire, hclog.NewNullLogger())
	refuse(gone, time.Now())
	if _, err := gone.Reconcile(context.Background()); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("marks unreadable: %v", err)
	}
	if got := names(tainted(t, kube)); got != "none" {
		t.Errorf("marks unreadable: tainted %s", got)
	}
}

// staleOnce is marks whose first Load misses them all.
type staleOnce struct {
	isolate.Marks
	loaded bool
}

func (s *staleOnce) Load(ctx context.Context) (map[string]isolate.Mark, error) {
	if !s.loaded {
		s.loaded = true
		return map[string]isolate.Mark{}, nil
	}
	return s.Marks.Load(ctx)
}

// unwritable is marks that cannot be stored.
type unwritable struct{ isolate.Marks }

func (unwritable) Store(context.Context, map[string]*isolate.Mark) error {
	return errors.New("configmaps \"hwattest-isolate-state\" is too large")
}

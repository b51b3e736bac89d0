package attestation_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	entryv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/entry/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	credentialcomposerv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/credentialcomposer/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"github.com/veraison/ear"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hwattest/hwattest/credentialcomposer/attestation"
	"github.com/hwattest/hwattest/pkg/claims"
)

// fakeAPI is a SPIRE server API holding entries and agents.
type fakeAPI struct {
	mu      sync.Mutex
	entries []*types.Entry
	agents  map[string]*types.Agent
	down    bool
	calls   atomic.Int64
}

func (f *fakeAPI) ListEntries(_ context.Context, req *entryv1.ListEntriesRequest, _ ...grpc.CallOption) (*entryv1.ListEntriesResponse, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	want := req.GetFilter().GetBySpiffeId()
	if strings.HasPrefix(want.GetPath(), "/spire/") { // as SPIRE answers
		return nil, status.Errorf(codes.InvalidArgument, "malformed SPIFFE ID filter: path is in the reserved namespace")
	}
	resp := &entryv1.ListEntriesResponse{}
	for _, e := range f.entries {
		if e.SpiffeId.TrustDomain == want.TrustDomain && e.SpiffeId.Path == want.Path {
			resp.Entries = append(resp.Entries, e)
		}
	}
	return resp, nil
}

func (f *fakeAPI) GetAgent(_ context.Context, req *agentv1.GetAgentRequest, _ ...grpc.CallOption) (*types.Agent, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	if !strings.HasPrefix(req.GetId().GetPath(), "/spire/agent/") { // as SPIRE answers
		return nil, status.Errorf(codes.InvalidArgument, "invalid agent ID: path is not in the agent namespace")
	}
	a, ok := f.agents[req.GetId().GetPath()]
	if !ok {
		return nil, status.Error(codes.NotFound, "agent not found")
	}
	return a, nil
}

func (f *fakeAPI) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func id(path string) *types.SPIFFEID { return &types.SPIFFEID{TrustDomain: "example.org", Path: path} }

func sels(s ...string) []*types.Selector {
	var out []*types.Selector
	for i := 0; i+1 < len(s); i += 2 {
		out = append(out, &types.Selector{Type: s[i], Value: s[i+1]})
	}
	return out
}

// fixed is the test clock: nothing expires.
var fixed = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

const agentPath = "/spire/agent/tpm/abc"

func newAPI() *fakeAPI {
	return &fakeAPI{
		entries: []*types.Entry{
			// Node aliases: two entries for one alias ID.
			{Id: "alias1", SpiffeId: id("/node/level3"), ParentId: id("/spire/server"), Selectors: sels("tpm", "policy:level3", "tpm", "secureboot:enabled")},
			{Id: "alias2", SpiffeId: id("/node/level3"), ParentId: id("/spire/server"), Selectors: sels("tpm", "policy:level3", "tpm", "ek_issuer:CN=x")},
			// A workload under the alias.
			{Id: "wl1", SpiffeId: id("/web"), ParentId: id("/node/level3"), Selectors: sels("container", "image_digest:sha256:aaaa", "unix", "uid:0")},
			// A workload under one agent.
			{Id: "wl2", SpiffeId: id("/db"), ParentId: id(agentPath), Selectors: sels("exe", "sha256:bbbb")},
			// Two entries for one ID.
			{Id: "wl3", SpiffeId: id("/both"), ParentId: id("/node/level3"), Selectors: sels("container", "image_digest:sha256:aaaa", "unix", "uid:0")},
			{Id: "wl4", SpiffeId: id("/both"), ParentId: id(agentPath), Selectors: sels("container", "image_digest:sha256:aaaa", "unix", "uid:1")},
		},
		agents: map[string]*types.Agent{
			agentPath: {
				Id: id(agentPath), AttestationType: "tpm", CanReattest: true,
				X509SvidExpiresAt: fixed.Add(50 * time.Minute).Unix(),
				Selectors:         sels("tpm", "pub_hash:abc", "tpm", "policy:level3", "tpm", "policy:level1"),
			},
		},
	}
}

type served struct {
	cc  *credentialcomposerv1.CredentialComposerPluginClient
	cfg *configv1.ConfigServiceClient
}

func serve(t *testing.T, api attestation.API, hcl string) served {
	t.Helper()
	p := attestation.NewForTest(api, func() time.Time { return fixed })
	s := served{new(credentialcomposerv1.CredentialComposerPluginClient), new(configv1.ConfigServiceClient)}
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:   credentialcomposerv1.CredentialComposerPluginServer(p),
		PluginClient:   s.cc,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(p)},
		ServiceClients: []pluginsdk.ServiceClient{s.cfg},
		Logger:         hclog.NewNullLogger(),
	})
	if _, err := s.cfg.Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "example.org"},
		HclConfiguration:  hcl,
	}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return s
}

var otherExt = &credentialcomposerv1.X509Extension{Oid: "1.2.3.4", Value: []byte{0x05, 0x00}}

func (s served) x509(t *testing.T, path string) (*credentialcomposerv1.X509SVIDAttributes, error) {
	t.Helper()
	resp, err := s.cc.ComposeWorkloadX509SVID(context.Background(), &credentialcomposerv1.ComposeWorkloadX509SVIDRequest{
		SpiffeId:   "spiffe://example.org" + path,
		Attributes: &credentialcomposerv1.X509SVIDAttributes{DnsSans: []string{"web"}, ExtraExtensions: []*credentialcomposerv1.X509Extension{otherExt}},
	})
	return resp.GetAttributes(), err
}

// decode reads the claims out of attrs as a relying party would.
func decode(t *testing.T, attrs *credentialcomposerv1.X509SVIDAttributes) *claims.Claims {
	t.Helper()
	for _, e := range attrs.GetExtraExtensions() {
		if e.Oid == claims.OID.String() {
			c, err := claims.FromCertificate(&x509.Certificate{Extensions: []pkix.Extension{{Id: claims.OID, Critical: e.Critical, Value: e.Value}}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	t.Fatal("no id-pe-cmw extension")
	return nil
}

func TestWorkloadUnderAlias(t *testing.T) {
	s := serve(t, newAPI(), "")
	attrs, err := s.x509(t, "/web")
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs.ExtraExtensions) != 2 || attrs.ExtraExtensions[0].Oid != otherExt.Oid || len(attrs.DnsSans) != 1 {
		t.Fatalf("another composer's attributes not kept: %v", attrs)
	}
	c := decode(t, attrs)
	// Only what both alias entries require.
	if got := c.Node.Selectors; len(got) != 1 || got[0] != "tpm:policy:level3" {
		t.Fatalf("node selectors %v", got)
	}
	if c.Node.AgentID != "" || !c.Node.AttestedAt.IsZero() {
		t.Fatalf("an alias names no agent: %+v", c.Node)
	}
	if c.Node.Status != ear.TrustTierAffirming || c.Node.TrustVector.Configuration != ear.ApprovedConfigClaim || c.Node.TrustVector.InstanceIdentity != ear.TrustworthyInstanceClaim || c.Node.TrustVector.Hardware != ear.NoClaim {
		t.Fatalf("node appraisal %+v", c.Node)
	}
	if got := c.Workload.Selectors; len(got) != 2 || got[0] != "container:image_digest:sha256:aaaa" {
		t.Fatalf("workload selectors %v", got)
	}
	if c.Workload.TrustVector.Executables != ear.ApprovedRuntimeClaim || c.Workload.TrustVector.FileSystem != ear.ApprovedFilesClaim {
		t.Fatalf("workload appraisal %+v", c.Workload)
	}
	if !c.IssuedAt.Equal(fixed) || c.Verifier == "" {
		t.Fatalf("iat %s verifier %q", c.IssuedAt, c.Verifier)
	}
}

func TestWorkloadUnderAgent(t *testing.T) {
	s := serve(t, newAPI(), `agent_ttl = "1h"`)
	attrs, err := s.x509(t, "/db")
	if err != nil {
		t.Fatal(err)
	}
	c := decode(t, attrs)
	if c.Node.AgentID != "spiffe://example.org"+agentPath {
		t.Fatalf("agent %q", c.Node.AgentID)
	}
	// Expires in 50 minutes, agent SVIDs live an hour: attested 10 minutes ago.
	if want := fixed.Add(-10 * time.Minute); !c.Node.AttestedAt.Equal(want) {
		t.Fatalf("attested at %s, want %s", c.Node.AttestedAt, want)
	}
	if err := claims.Check(c, fixed, claims.RequireNodePolicy("level1"), claims.RequireNodeAttestedWithin(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
}

func TestSeveralEntriesShareOnly(t *testing.T) {
	s := serve(t, newAPI(), "")
	attrs, err := s.x509(t, "/both")
	if err != nil {
		t.Fatal(err)
	}
	c := decode(t, attrs)
	if got := c.Workload.Selectors; len(got) != 1 || got[0] != "container:image_digest:sha256:aaaa" {
		t.Fatalf("workload selectors %v", got)
	}
	// The alias requires policy:level3 (both entries); the agent has it.
	if got := c.Node.Selectors; len(got) != 1 || got[0] != "tpm:policy:level3" {
		t.Fatalf("node selectors %v", got)
	}
	if c.Node.AgentID != "" {
		t.Fatalf("one of two entries names an agent: %q", c.Node.AgentID)
	}
}

func TestNoEntriesNoClaims(t *testing.T) {
	s := serve(t, newAPI(), "")
	attrs, err := s.x509(t, "/unknown")
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs.ExtraExtensions) != 1 || attrs.ExtraExtensions[0].Oid != otherExt.Oid {
		t.Fatalf("attributes %v", attrs)
	}
}

func TestJWT(t *testing.T) {
	s := serve(t, newAPI(), "")
	resp, err := s.cc.ComposeWorkloadJWTSVID(context.Background(), &credentialcomposerv1.ComposeWorkloadJWTSVIDRequest{
		SpiffeId: "spiffe://example.org/web",
		Attributes: &credentialcomposerv1.JWTSVIDAttributes{Claims: &structpb.Struct{Fields: map[string]*structpb.Value{
			"sub":   structpb.NewStringValue("spiffe://example.org/web"),
			"other": structpb.NewStringValue("kept"),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := resp.GetAttributes().GetClaims().AsMap()
	if m["other"] != "kept" {
		t.Fatalf("another composer's claim lost: %v", m)
	}
	c, err := claims.FromJWTClaims(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := claims.Check(c, fixed, claims.RequireImageDigest("sha256:aaaa"), claims.RequireNodePolicy("level3")); err != nil {
		t.Fatal(err)
	}
	// A second "cmw" claim is a conflict.
	_, err = s.cc.ComposeWorkloadJWTSVID(context.Background(), &credentialcomposerv1.ComposeWorkloadJWTSVIDRequest{
		SpiffeId:   "spiffe://example.org/web",
		Attributes: resp.GetAttributes(),
	})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("conflict: %v", err)
	}
}

func TestConflictingExtension(t *testing.T) {
	s := serve(t, newAPI(), "")
	_, err := s.cc.ComposeWorkloadX509SVID(context.Background(), &credentialcomposerv1.ComposeWorkloadX509SVIDRequest{
		SpiffeId:   "spiffe://example.org/web",
		Attributes: &credentialcomposerv1.X509SVIDAttributes{ExtraExtensions: []*credentialcomposerv1.X509Extension{{Oid: "1.3.6.1.5.5.7.1.35", Value: []byte{0x0c, 0}}}},
	})
	if status.Code(err) != codes.FailedPrecondition || status.Convert(err).Message() != "another credential composer already added an id-pe-cmw extension (1.3.6.1.5.5.7.1.35)" {
		t.Fatalf("error %v", err)
	}
}

func TestAgentSVID(t *testing.T) {
	s := serve(t, newAPI(), "")
	compose := func(path string) (*credentialcomposerv1.X509SVIDAttributes, error) {
		resp, err := s.cc.ComposeAgentX509SVID(context.Background(), &credentialcomposerv1.ComposeAgentX509SVIDRequest{
			SpiffeId: "spiffe://example.org" + path, Attributes: &credentialcomposerv1.X509SVIDAttributes{},
		})
		return resp.GetAttributes(), err
	}
	attrs, err := compose(agentPath)
	if err != nil {
		t.Fatal(err)
	}
	c := decode(t, attrs)
	if c.Workload != nil || c.Node.AgentID != "spiffe://example.org"+agentPath || len(c.Node.Selectors) != 3 {
		t.Fatalf("agent claims %+v", c.Node)
	}
	// First attestation: no record yet, no claims.
	attrs, err = compose("/spire/agent/tpm/new")
	if err != nil || len(attrs.GetExtraExtensions()) != 0 {
		t.Fatalf("new agent: %v %v", attrs, err)
	}
}

func TestAPIDown(t *testing.T) {
	t.Run("fail closed", func(t *testing.T) {
		api := newAPI()
		api.setDown(true)
		s := serve(t, api, "")
		_, err := s.x509(t, "/web")
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("error %v", err)
		}
		want := "X509-SVID of spiffe://example.org/web: SPIRE server API did not answer, refusing to issue without attestation claims: list entries of spiffe://example.org/web: rpc error: code = Unavailable desc = connection refused"
		if msg := status.Convert(err).Message(); msg != want {
			t.Fatalf("message\n%s\nwant\n%s", msg, want)
		}
		_, err = s.cc.ComposeAgentX509SVID(context.Background(), &credentialcomposerv1.ComposeAgentX509SVIDRequest{SpiffeId: "spiffe://example.org" + agentPath})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("agent: %v", err)
		}
	})
	t.Run("fail open", func(t *testing.T) {
		api := newAPI()
		api.setDown(true)
		s := serve(t, api, "fail_open = true")
		attrs, err := s.x509(t, "/web")
		if err != nil {
			t.Fatal(err)
		}
		if len(attrs.ExtraExtensions) != 1 {
			t.Fatalf("claims while the API is down: %v", attrs)
		}
	})
}

func TestCache(t *testing.T) {
	api := newAPI()
	s := serve(t, api, `refresh_interval = "1h"
max_age = "1h"`)
	if _, err := s.x509(t, "/web"); err != nil {
		t.Fatal(err)
	}
	n := api.calls.Load()
	for range 5 {
		if _, err := s.x509(t, "/web"); err != nil {
			t.Fatal(err)
		}
	}
	if api.calls.Load() != n {
		t.Fatalf("cached answer fetched again: %d calls, then %d", n, api.calls.Load())
	}
	// A cached answer survives the API going down (until max_age).
	api.setDown(true)
	if _, err := s.x509(t, "/web"); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshSeesDrift: the background refresh picks up an agent's new
// selectors, and the next SVID no longer claims the policy it lost.
func TestRefreshSeesDrift(t *testing.T) {
	api := newAPI()
	p := attestation.NewForTest(api, time.Now)
	s := served{new(credentialcomposerv1.CredentialComposerPluginClient), new(configv1.ConfigServiceClient)}
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:   credentialcomposerv1.CredentialComposerPluginServer(p),
		PluginClient:   s.cc,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(p)},
		ServiceClients: []pluginsdk.ServiceClient{s.cfg},
	})
	if _, err := s.cfg.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: `refresh_interval = "20ms"
max_age = "1h"`}); err != nil {
		t.Fatal(err)
	}
	attrs, err := s.x509(t, "/db")
	if err != nil {
		t.Fatal(err)
	}
	if !decode(t, attrs).Node.HasSelector("tpm:policy:level3") {
		t.Fatal("no level3 before the drift")
	}
	api.mu.Lock()
	api.agents[agentPath].Selectors = sels("tpm", "pub_hash:abc", "tpm", "policy:level1")
	api.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		attrs, err := s.x509(t, "/db")
		if err != nil {
			t.Fatal(err)
		}
		if !decode(t, attrs).Node.HasSelector("tpm:policy:level3") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the refresh did not drop the lost policy within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNotConfigured(t *testing.T) {
	p := attestation.New()
	_, err := p.ComposeWorkloadX509SVID(context.Background(), &credentialcomposerv1.ComposeWorkloadX509SVIDRequest{SpiffeId: "spiffe://example.org/web"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("error %v", err)
	}
}

// TestIssuedAtAdvances: the encoding kept for one second is not reused in
// the next.
func TestIssuedAtAdvances(t *testing.T) {
	var mu sync.Mutex
	now := fixed
	p := attestation.NewForTest(newAPI(), func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	if _, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: `max_age = "1h"
refresh_interval = "1h"`}); err != nil {
		t.Fatal(err)
	}
	iat := func() time.Time {
		resp, err := p.ComposeWorkloadX509SVID(context.Background(), &credentialcomposerv1.ComposeWorkloadX509SVIDRequest{SpiffeId: "spiffe://example.org/web"})
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, resp.Attributes).IssuedAt
	}
	if got := iat(); !got.Equal(fixed) {
		t.Fatalf("iat %s", got)
	}
	mu.Lock()
	now = fixed.Add(1500 * time.Millisecond)
	mu.Unlock()
	if got := iat(); !got.Equal(fixed.Add(time.Second)) {
		t.Fatalf("iat %s, want %s", got, fixed.Add(time.Second))
	}
}

// fakeMetrics records counters.
type fakeMetrics struct {
	metricsv1.UnimplementedMetricsServer
	mu       sync.Mutex
	counters map[string]float32
}

func (f *fakeMetrics) IncrCounter(_ context.Context, req *metricsv1.IncrCounterRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := strings.Join(req.Key, ".")
	for _, l := range req.Labels {
		key += ";" + l.Name + "=" + l.Value
	}
	f.counters[key] += req.Val
	return &emptypb.Empty{}, nil
}

func (f *fakeMetrics) AddSample(context.Context, *metricsv1.AddSampleRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (f *fakeMetrics) SetGauge(context.Context, *metricsv1.SetGaugeRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (f *fakeMetrics) get(key string) float32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters[key]
}

// TestMetrics: compositions are counted by kind and outcome through SPIRE's
// metrics host service.
func TestMetrics(t *testing.T) {
	api := newAPI()
	m := &fakeMetrics{counters: map[string]float32{}}
	p := attestation.NewForTest(api, time.Now)
	s := served{new(credentialcomposerv1.CredentialComposerPluginClient), new(configv1.ConfigServiceClient)}
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:       credentialcomposerv1.CredentialComposerPluginServer(p),
		PluginClient:       s.cc,
		ServiceServers:     []pluginsdk.ServiceServer{configv1.ConfigServiceServer(p)},
		ServiceClients:     []pluginsdk.ServiceClient{s.cfg},
		HostServiceServers: []pluginsdk.ServiceServer{metricsv1.MetricsServiceServer(m)},
	})
	if _, err := s.cfg.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: ""}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.x509(t, "/web"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.x509(t, "/unknown"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.get("attestation_composer.composition;kind=x509;outcome=composed") != 3 || m.get("attestation_composer.composition;kind=x509;outcome=no_entries") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("counters %v", m.counters)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAPIError: the API answers with an error other than unavailability:
// refused (Internal) even with fail_open.
func TestAPIError(t *testing.T) {
	api := newAPI()
	api.entries = append(api.entries, &types.Entry{Id: "bad", SpiffeId: id("/bad"), ParentId: &types.SPIFFEID{TrustDomain: "example.org", Path: "no-slash"}})
	s := serve(t, api, "fail_open = true")
	_, err := s.x509(t, "/bad")
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "could not read the registration entries") {
		t.Fatalf("error %v", err)
	}
}

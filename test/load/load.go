package load

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gtsim "github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// BootLog is the boot log every simulated node replays into its PCRs at
// "boot" and sends: a real UEFI log with secure boot on (103 events).
const BootLog = "../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin"

// Options configure the server under load.
type Options struct {
	// Postgres puts SPIRE's datastore on PostgreSQL; false uses SQLite.
	Postgres bool
	// AgentTTL is SPIRE's agent_ttl; empty keeps SPIRE's default.
	AgentTTL string
	// Servers is the number of SPIRE servers, sharing the PostgreSQL
	// datastore behind the harness's round-robin TCP balancer (more than
	// one needs Postgres); 0 or 1 is one server, reached directly.
	Servers int
}

// Env is one SPIRE server (our tpm attestor and join_token), its database,
// a test EK CA the server trusts, and the agents' TPM.
type Env struct {
	Server *harness.Server // the first of Servers
	// Servers are the SPIRE servers; with more than one, the agents reach
	// them through Balancer, one connection per server.
	Servers  []*harness.Server
	Balancer *harness.Proxy
	PG       *harness.Postgres

	dir     string
	ca      *tpmtest.CA
	logPath string
	logRaw  []byte
	apis    []agentv1.AgentClient // the agent API, as agents reach it
	nextAPI int
	admin   agentv1.AgentClient // the admin socket, as the operator's CLI
	csr     []byte

	// The reference TPM is a process-wide singleton: one attestation at a
	// time per process.
	simMu  sync.Mutex
	ekCert map[int][]byte
	// Setup and Attest count the TPM commands of a node's "boot" (EK
	// certificate provisioning, boot log replay) and of attestations.
	Setup, Attest *CountingTPM
}

// Start starts the server (and PostgreSQL when asked) with SPIRE's per-IP
// attestation rate limit off.
func Start(tb testing.TB, opts Options) *Env {
	tb.Helper()
	e := &Env{dir: harness.Dir(tb), ca: tpmtest.NewCA(tb, "load EK CA"), ekCert: map[int][]byte{}}
	if opts.Servers < 1 {
		opts.Servers = 1
	}
	if opts.Servers > 1 && !opts.Postgres {
		tb.Fatal("load: several servers need the PostgreSQL datastore")
	}
	raw, err := os.ReadFile(BootLog)
	if err != nil {
		tb.Fatal(err)
	}
	e.logRaw = raw
	e.logPath = harness.WriteFile(tb, e.dir, "binary_bios_measurements", string(raw))
	cfg := harness.ServerConfig{
		NodeAttestor: fmt.Sprintf("ek_ca_paths = [%q]\nek_algorithms = [\"ecc-p256\"]", e.ca.WritePEM(tb)),
		AgentTTL:     opts.AgentTTL,
		LogLevel:     "INFO",
		// SPIRE limits attestations to one per second per client IP; every
		// simulated agent comes from 127.0.0.1.
		ServerExtra:  "  ratelimit {\n    attestation = false\n  }\n",
		ExtraPlugins: "  NodeAttestor \"join_token\" {\n    plugin_data {}\n  }\n",
	}
	if opts.Postgres {
		e.PG = harness.StartPostgres(tb)
		cfg.DataStore = e.PG.DataStore()
	}
	for range opts.Servers {
		e.Servers = append(e.Servers, harness.StartServer(tb, cfg))
	}
	e.Server = e.Servers[0]
	if len(e.Servers) == 1 {
		e.apis = []agentv1.AgentClient{agentAPI(tb, e.Server, e.Server.Port, e.dir, nil)}
	} else {
		// The agents' bootstrap bundle must hold every server's CA.
		if err := harness.Eventually(60*time.Second, func() error {
			if got := strings.Count(e.Server.MustCLI(tb, "bundle", "show"), "BEGIN CERTIFICATE"); got < len(e.Servers) {
				return fmt.Errorf("bundle has %d CAs, want %d", got, len(e.Servers))
			}
			return nil
		}); err != nil {
			tb.Fatal(err)
		}
		var backends []string
		for _, s := range e.Servers {
			backends = append(backends, fmt.Sprintf("127.0.0.1:%d", s.Port))
		}
		e.Balancer = harness.StartBalancer(tb, backends...)
		// One connection per server: the balancer hands the i-th new
		// connection to the i-th server, so connect them in order.
		for range e.Servers {
			e.apis = append(e.apis, agentAPI(tb, e.Server, e.Balancer.Port, e.dir, func(conn *grpc.ClientConn) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				conn.Connect()
				for st := conn.GetState(); st != connectivity.Ready; st = conn.GetState() {
					if !conn.WaitForStateChange(ctx, st) {
						tb.Fatalf("balancer connection: %v", st)
					}
				}
			}))
		}
	}
	conn, err := grpc.NewClient("unix://"+e.Server.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	e.admin = agentv1.NewAgentClient(conn)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	// SPIRE takes only the key from the CSR: one key serves every agent.
	if e.csr, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key); err != nil {
		tb.Fatal(err)
	}
	e.Setup, e.Attest = &CountingTPM{count: map[uint32]int{}}, &CountingTPM{count: map[uint32]int{}}
	return e
}

// Result is one attestation: its end-to-end latency (TPM included), the
// time the agent waited on the server, and its error.
type Result struct {
	Total, Server time.Duration
	Err           error
}

// AttestTPM attests agent i with our tpm attestor: the simulator seeded
// with i (so agent i always has the same EK), an EK certificate from the
// test CA in its NV, the boot log replayed into its PCRs, then one
// AttestAgent exchange with a persisted AK, as spire-agent with our agent
// plugin does at startup or re-attestation.
func (e *Env) AttestTPM(tb testing.TB, i int) Result {
	tb.Helper()
	e.simMu.Lock()
	defer e.simMu.Unlock()
	sim, err := gtsim.GetWithFixedSeedInsecure(int64(i) + 1)
	if err != nil {
		tb.Fatalf("simulator: %v", err)
	}
	defer sim.Close()
	e.Setup.inner, e.Attest.inner = transport.FromReadWriter(sim), transport.FromReadWriter(sim)
	cert, ok := e.ekCert[i]
	if !ok {
		cert = e.ca.IssueEK(tb, tpmtest.EKKey(tb, e.Setup, tpm2.ECCEKTemplate), "id:49465800", "SLB9670", "id:00070055")
		e.ekCert[i] = cert
	}
	tpmtest.WriteNV(tb, e.Setup, 0x01c0000a, cert)
	tpmtest.ReplayEventLog(tb, e.Setup, e.logRaw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)

	start := time.Now()
	cfg := attester.Config{EKAlgorithm: attester.ECC, EventLogPath: e.logPath,
		AKPath: filepath.Join(e.dir, fmt.Sprintf("ak-%d.json", i)), PCRBanks: []tpmquote.HashAlg{tpmquote.SHA256}}
	s, att, err := attester.Begin(e.Attest, cfg)
	if err != nil {
		return Result{Err: fmt.Errorf("attester: %w", err)}
	}
	defer s.Close()
	payload, err := att.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	var inTPM time.Duration
	wait, err := e.attest(&types.AttestationData{Type: "tpm", Payload: payload}, func(challenge []byte) ([]byte, error) {
		t0 := time.Now()
		defer func() { inTPM = time.Since(t0) }()
		ch, err := tpmquote.DecodeChallenge(challenge)
		if err != nil {
			return nil, err
		}
		r, err := s.Respond(ch)
		if err != nil {
			return nil, err
		}
		return r.Marshal()
	})
	return Result{Total: time.Since(start), Server: wait - inTPM, Err: err}
}

// AttestJoinToken enrols a new agent with a fresh join token: SPIRE's
// cheapest attestor, the baseline. The token's creation is not timed.
func (e *Env) AttestJoinToken(tb testing.TB) Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := e.admin.CreateJoinToken(ctx, &agentv1.CreateJoinTokenRequest{Ttl: 600})
	if err != nil {
		return Result{Err: fmt.Errorf("create join token: %w", err)}
	}
	wait, err := e.attest(&types.AttestationData{Type: "join_token", Payload: []byte(tok.GetValue())}, nil)
	return Result{Total: wait, Server: wait, Err: err}
}

// attest runs one AttestAgent stream and returns its wall time.
func (e *Env) attest(data *types.AttestationData, answer func([]byte) ([]byte, error)) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api := e.apis[e.nextAPI%len(e.apis)]
	e.nextAPI++
	start := time.Now()
	stream, err := api.AttestAgent(ctx)
	if err != nil {
		return 0, err
	}
	if err := stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{Params: &agentv1.AttestAgentRequest_Params{
		Data: data, Params: &agentv1.AgentX509SVIDParams{Csr: e.csr},
	}}}); err != nil {
		return 0, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return 0, err
	}
	if answer != nil {
		b, err := answer(resp.GetChallenge())
		if err != nil {
			return 0, fmt.Errorf("answer: %w", err)
		}
		if err := stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_ChallengeResponse{ChallengeResponse: b}}); err != nil {
			return 0, err
		}
		if resp, err = stream.Recv(); err != nil {
			return 0, err
		}
	}
	if len(resp.GetResult().GetSvid().GetCertChain()) == 0 {
		return 0, fmt.Errorf("no agent SVID in the result")
	}
	_ = stream.CloseSend()
	return time.Since(start), nil
}

// Agents counts the agents SPIRE holds with the given attestation type,
// paging through ListAgents as an operator's tool would.
func (e *Env) Agents(tb testing.TB, attestationType string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, token := 0, ""
	for {
		resp, err := e.admin.ListAgents(ctx, &agentv1.ListAgentsRequest{
			Filter:     &agentv1.ListAgentsRequest_Filter{ByAttestationType: attestationType},
			OutputMask: &types.AgentMask{},
			PageSize:   1000,
			PageToken:  token,
		})
		if err != nil {
			tb.Fatalf("list agents: %v", err)
		}
		n += len(resp.GetAgents())
		if token = resp.GetNextPageToken(); token == "" {
			return n
		}
	}
}

// CPUSnapshot is the CPU time used so far by each part of the deployment.
type CPUSnapshot struct {
	Server, Plugins, Postgres, Generator time.Duration
	TPM                                  time.Duration
	// PerServer and PerPlugins are Server and Plugins by server.
	PerServer, PerPlugins []time.Duration
	At                    time.Time
}

// CPU reads the CPU times now: spire-server alone, its plugin processes
// (our tpm plugin is the only external one), PostgreSQL (postmaster and
// backends), this process (the generator: gRPC client and the TPM
// simulator), and the time spent inside TPM commands.
func (e *Env) CPU() CPUSnapshot {
	s := CPUSnapshot{At: time.Now()}
	for _, srv := range e.Servers {
		self, kids := CPU(srv.PID())
		s.Server += self
		s.Plugins += kids
		s.PerServer = append(s.PerServer, self)
		s.PerPlugins = append(s.PerPlugins, kids)
	}
	if e.PG != nil {
		if pid, err := e.PG.PID(); err == nil {
			self, kids := CPU(pid)
			s.Postgres = self + kids
		}
	}
	s.Generator, _ = CPU(os.Getpid())
	e.Setup.mu.Lock()
	e.Attest.mu.Lock()
	s.TPM = e.Attest.busy
	e.Attest.mu.Unlock()
	e.Setup.mu.Unlock()
	return s
}

// Report summarises one phase of a run.
type Report struct {
	Name       string
	N          int
	Wall       time.Duration
	Lat        []time.Duration // server wait per successful attestation
	Failures   map[string]int  // by gRPC code
	Before     CPUSnapshot
	After      CPUSnapshot
	TPMSummary string
}

// Run times f for each of n attestations, paced at rate per second when
// rate > 0 (closed loop otherwise), and reports.
func (e *Env) Run(tb testing.TB, name string, n int, rate float64, f func(k int) Result) *Report {
	tb.Helper()
	r := &Report{Name: name, N: n, Failures: map[string]int{}, Before: e.CPU()}
	e.Attest.Take()
	start := time.Now()
	for k := 0; k < n; k++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(k) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		res := f(k)
		if res.Err != nil {
			r.Failures[status.Code(res.Err).String()]++
			if len(r.Failures) == 1 && r.Failures[status.Code(res.Err).String()] == 1 {
				tb.Logf("%s: first failure: %v", name, res.Err)
			}
			continue
		}
		r.Lat = append(r.Lat, res.Server)
	}
	r.Wall = time.Since(start)
	r.After = e.CPU()
	counts, _ := e.Attest.Take()
	if len(counts) > 0 {
		summary, cmds, priv := CommandSummary(counts, n)
		r.TPMSummary = fmt.Sprintf("%.1f commands, %.1f private-key operations per attestation: %s", cmds, priv, summary)
	}
	return r
}

// Failed is the number of failed attestations.
func (r *Report) Failed() int {
	n := 0
	for _, c := range r.Failures {
		n += c
	}
	return n
}

// Rate is successful attestations per second of wall time.
func (r *Report) Rate() float64 { return float64(len(r.Lat)) / r.Wall.Seconds() }

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// String renders the report.
func (r *Report) String() string {
	lat := slices.Clone(r.Lat)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }
	per := func(d time.Duration) string {
		if len(r.Lat) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fms", float64(d)/1e6/float64(len(r.Lat)))
	}
	var fails []string
	for code, n := range r.Failures {
		fails = append(fails, fmt.Sprintf("%s=%d", code, n))
	}
	sort.Strings(fails)
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s: %d attestations, %d ok, failures {%s}, %.1fs wall, %.1f/s\n", r.Name, r.N, len(r.Lat), strings.Join(fails, " "), r.Wall.Seconds(), r.Rate())
	fmt.Fprintf(b, "  server wait p50 %s p95 %s p99 %s max %s\n", ms(pct(lat, .5)), ms(pct(lat, .95)), ms(pct(lat, .99)), ms(pct(lat, 1)))
	fmt.Fprintf(b, "  CPU per attestation: spire-server %s, plugins %s, postgres %s, generator %s (of which in TPM commands %s)\n",
		per(r.After.Server-r.Before.Server), per(r.After.Plugins-r.Before.Plugins), per(r.After.Postgres-r.Before.Postgres),
		per(r.After.Generator-r.Before.Generator), per(r.After.TPM-r.Before.TPM))
	fmt.Fprintf(b, "  CPU seconds: spire-server %.2f, plugins %.2f, postgres %.2f, generator %.2f\n",
		(r.After.Server - r.Before.Server).Seconds(), (r.After.Plugins - r.Before.Plugins).Seconds(),
		(r.After.Postgres - r.Before.Postgres).Seconds(), (r.After.Generator - r.Before.Generator).Seconds())
	if len(r.After.PerServer) > 1 {
		for i := range r.After.PerServer {
			fmt.Fprintf(b, "  server %d: CPU seconds spire-server %.2f, plugins %.2f\n", i+1,
				(r.After.PerServer[i] - r.Before.PerServer[i]).Seconds(), (r.After.PerPlugins[i] - r.Before.PerPlugins[i]).Seconds())
		}
	}
	if r.TPMSummary != "" {
		fmt.Fprintf(b, "  TPM: %s\n", r.TPMSummary)
	}
	return b.String()
}

// agentAPI connects to the agent API on port (the server's, or the
// balancer's) as an agent bootstrapped with the server's bundle does, and
// hands the connection to ready when not nil.
func agentAPI(tb testing.TB, server *harness.Server, port int, dir string, ready func(*grpc.ClientConn)) agentv1.AgentClient {
	tb.Helper()
	bundle, err := x509bundle.Load(spiffeid.RequireTrustDomainFromString(harness.TrustDomain), server.BundlePath(tb, dir))
	if err != nil {
		tb.Fatal(err)
	}
	serverID := spiffeid.RequireFromString("spiffe://" + harness.TrustDomain + "/spire/server")
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port),
		grpc.WithTransportCredentials(credentials.NewTLS(tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(serverID)))))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	if ready != nil {
		ready(conn)
	}
	return agentv1.NewAgentClient(conn)
}

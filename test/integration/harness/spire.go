package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TrustDomain is the trust domain of every test deployment.
const TrustDomain = "example.org"

// ServerConfig configures a SPIRE server.
type ServerConfig struct {
	// NodeAttestor is the body of the `plugin_data` block of our tpm node
	// attestor (HCL).
	NodeAttestor string
	// DataStore is the `plugin_data` body of the sql DataStore; empty
	// means a SQLite file in the server's directory.
	DataStore string
	// AgentTTL is the agent SVID lifetime (SPIRE's agent_ttl); empty keeps
	// SPIRE's default.
	AgentTTL string
	// X509SVIDTTL is default_x509_svid_ttl; empty keeps SPIRE's default.
	X509SVIDTTL string
	// Dir is the server's directory; empty makes one. A server restarted
	// with the same Dir keeps its keys and SQLite datastore.
	Dir string
	// Port is the bind port; zero picks a free one.
	Port int
	// ExtraPlugins are more plugin blocks, verbatim.
	ExtraPlugins string
	// ServerExtra is more of the server block, verbatim.
	ServerExtra string
	// LogLevel is the server's log_level; empty means DEBUG.
	LogLevel string
	// DataFile puts the tpm plugin's configuration in a plugin_data_file,
	// which Reconfigure rewrites (SPIRE re-reads it on SIGUSR1).
	DataFile bool
	// Attestor is the node attestor's plugin name; empty means "tpm".
	Attestor string
	// AttestorPlugin is the node attestor's binary (a Plugins name); empty
	// means "nodeattestor-tpm-server".
	AttestorPlugin string
}

// Server is a running spire-server.
type Server struct {
	*Process
	Bin    string
	Dir    string
	Port   int
	Socket string
	Config ServerConfig
}

// StartServer writes the server's configuration, starts it with our tpm
// server plugin (real plugin_cmd and plugin_checksum) and waits until it is
// healthy.
func StartServer(tb testing.TB, cfg ServerConfig) *Server {
	tb.Helper()
	bin, _ := SPIRE(tb)
	if cfg.Attestor == "" {
		cfg.Attestor = "tpm"
	}
	if cfg.AttestorPlugin == "" {
		cfg.AttestorPlugin = "nodeattestor-tpm-server"
	}
	plugin, ok := Plugins(tb)[cfg.AttestorPlugin]
	if !ok {
		tb.Fatalf("no plugin binary %q", cfg.AttestorPlugin)
	}
	if cfg.Dir == "" {
		cfg.Dir = Dir(tb)
	}
	if cfg.Port == 0 {
		cfg.Port = FreePort(tb)
	}
	if cfg.DataStore == "" {
		cfg.DataStore = fmt.Sprintf("database_type = \"sqlite3\"\nconnection_string = %q", filepath.Join(cfg.Dir, "datastore.sqlite3"))
	}
	var ttls string
	if cfg.AgentTTL != "" {
		ttls += fmt.Sprintf("  agent_ttl = %q\n", cfg.AgentTTL)
	}
	if cfg.X509SVIDTTL != "" {
		ttls += fmt.Sprintf("  default_x509_svid_ttl = %q\n", cfg.X509SVIDTTL)
	}
	ttls += cfg.ServerExtra
	if cfg.LogLevel == "" {
		cfg.LogLevel = "DEBUG"
	}
	s := &Server{Bin: bin, Dir: cfg.Dir, Port: cfg.Port, Socket: filepath.Join(cfg.Dir, "api.sock"), Config: cfg}
	conf := fmt.Sprintf(`server {
  bind_address = "127.0.0.1"
  bind_port    = %d
  socket_path  = %q
  trust_domain = %q
  data_dir     = %q
  log_level    = %q
%s}

plugins {
  DataStore "sql" {
    plugin_data {
%s
    }
  }
  KeyManager "disk" {
    plugin_data {
      keys_path = %q
    }
  }
  NodeAttestor %q {
    plugin_cmd      = %q
    plugin_checksum = %q
%s
  }
%s}
`, cfg.Port, s.Socket, TrustDomain, filepath.Join(cfg.Dir, "data"), cfg.LogLevel, ttls, cfg.DataStore,
		filepath.Join(cfg.Dir, "keys.json"), cfg.Attestor, plugin.Path, plugin.Checksum, pluginData(tb, cfg), cfg.ExtraPlugins)
	confPath := WriteFile(tb, cfg.Dir, "server.conf", conf)
	s.Process = Start(tb, cfg.Dir, "spire-server", bin, "run", "-config", confPath)
	s.WaitHealthy(tb)
	return s
}

// pluginData is the tpm plugin's data: inline, or in a file.
func pluginData(tb testing.TB, cfg ServerConfig) string {
	if !cfg.DataFile {
		return "    plugin_data {\n" + cfg.NodeAttestor + "\n    }"
	}
	return fmt.Sprintf("    plugin_data_file = %q", WriteFile(tb, cfg.Dir, "tpm-server.hcl", cfg.NodeAttestor))
}

// Reconfigure rewrites the tpm plugin's data file (ServerConfig.DataFile)
// and signals the server to re-read it, as an operator would, then waits for
// SPIRE to confirm.
func (s *Server) Reconfigure(tb testing.TB, nodeAttestor string) {
	tb.Helper()
	if !s.Config.DataFile {
		tb.Fatal("Reconfigure needs ServerConfig.DataFile")
	}
	before := strings.Count(s.LogText(), "Plugin reconfigured")
	WriteFile(tb, s.Dir, "tpm-server.hcl", nodeAttestor)
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		tb.Fatal(err)
	}
	if err := Eventually(30*time.Second, func() error {
		if strings.Count(s.LogText(), "Plugin reconfigured") > before {
			return nil
		}
		var lines []string
		for _, l := range strings.Split(s.LogText(), "\n") {
			if strings.Contains(strings.ToLower(l), "configur") {
				lines = append(lines, l)
			}
		}
		return fmt.Errorf("spire-server did not reconfigure the plugin:\n%s", strings.Join(lines, "\n"))
	}); err != nil {
		tb.Fatal(err)
	}
}

// AuthorityID is the server's X.509 authority ID (its CA's subject key ID
// in hex), as the server logs it when the CA is activated.
func (s *Server) AuthorityID(tb testing.TB) string {
	tb.Helper()
	for _, line := range strings.Split(s.LogText(), "\n") {
		if !strings.Contains(line, `msg="X509 CA activated"`) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "local_authority_id="); ok {
				return v
			}
		}
	}
	tb.Fatal("spire-server did not log its X509 CA")
	return ""
}

// WaitHealthy waits until the server answers its health check.
func (s *Server) WaitHealthy(tb testing.TB) {
	tb.Helper()
	s.waitHealthy(tb, func(ctx context.Context) error {
		_, err := s.CLI(ctx, "healthcheck")
		return err
	})
}

// Restart stops the server and starts it again with the same directory,
// port and configuration.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Process = s.restart(tb, s.Bin, "server.conf")
	s.WaitHealthy(tb)
}

// CLI runs `spire-server <args> -socketPath <socket>`.
func (s *Server) CLI(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return Run(ctx, s.Bin, append(args, "-socketPath", s.Socket)...)
}

// MustCLI is CLI failing the test on error.
func (s *Server) MustCLI(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := s.CLI(context.Background(), args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BundlePath writes the server's trust bundle (PEM, as `spire-server bundle
// show` prints it: what an operator copies to an agent) into dir.
func (s *Server) BundlePath(tb testing.TB, dir string) string {
	tb.Helper()
	return WriteFile(tb, dir, "bundle.pem", s.MustCLI(tb, "bundle", "show"))
}

// AgentConfig configures a SPIRE agent.
type AgentConfig struct {
	// NodeAttestor is the `plugin_data` body of our tpm agent plugin.
	NodeAttestor string
	// Server is the server the agent bootstraps its bundle from and talks
	// to.
	Server *Server
	// ServerPort, when set, replaces the server's port (a Proxy in front).
	ServerPort int
	// Dir is the agent's directory; empty makes one.
	Dir string
	// ExtraPlugins are more plugin blocks, verbatim.
	ExtraPlugins string
	// JoinToken, when set, makes the agent attest with SPIRE's join_token
	// attestor and this token instead of our tpm plugin: a baseline for
	// measurements (the server needs the join_token attestor too).
	JoinToken string
	// LogLevel is the agent's log_level (default "DEBUG").
	LogLevel string
	// TopLevel is more top-level configuration (a telemetry block),
	// verbatim.
	TopLevel string
	// Attestor is the node attestor's plugin name; empty means "tpm".
	Attestor string
	// AttestorPlugin is the node attestor's binary; zero means the
	// "nodeattestor-tpm-agent" of Plugins.
	AttestorPlugin Plugin
	// PluginArgs are the node attestor's plugin_args.
	PluginArgs []string
}

// Agent is a running spire-agent.
type Agent struct {
	*Process
	Bin    string
	Dir    string
	Socket string
	Config AgentConfig
}

// StartAgent bootstraps an agent with the server's bundle (from `spire-server
// bundle show`), starts it with our tpm agent plugin and waits until it
// answers its health check, i.e. has attested.
func StartAgent(tb testing.TB, cfg AgentConfig) *Agent {
	tb.Helper()
	a := startAgent(tb, cfg)
	a.WaitHealthy(tb)
	return a
}

// StartAgentNoWait starts an agent and returns at once (for refusals).
func StartAgentNoWait(tb testing.TB, cfg AgentConfig) *Agent {
	tb.Helper()
	return startAgent(tb, cfg)
}

func startAgent(tb testing.TB, cfg AgentConfig) *Agent {
	tb.Helper()
	_, bin := SPIRE(tb)
	plugin := cfg.AttestorPlugin
	if plugin.Path == "" {
		plugin = Plugins(tb)["nodeattestor-tpm-agent"]
	}
	if cfg.Attestor == "" {
		cfg.Attestor = "tpm"
	}
	args := ""
	if len(cfg.PluginArgs) > 0 {
		quoted := make([]string, len(cfg.PluginArgs))
		for i, a := range cfg.PluginArgs {
			quoted[i] = strconv.Quote(a)
		}
		args = "    plugin_args     = [" + strings.Join(quoted, ", ") + "]\n"
	}
	if cfg.Dir == "" {
		cfg.Dir = Dir(tb)
	}
	// SPIRE wants the admin socket outside the workload socket's directory.
	for _, d := range []string{"public", "admin"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	a := &Agent{Bin: bin, Dir: cfg.Dir, Socket: filepath.Join(cfg.Dir, "public", "workload.sock"), Config: cfg}
	port := cfg.Server.Port
	if cfg.ServerPort != 0 {
		port = cfg.ServerPort
	}
	attestor := fmt.Sprintf(`  NodeAttestor %q {
    plugin_cmd      = %q
    plugin_checksum = %q
%s    plugin_data {
%s
    }
  }`, cfg.Attestor, plugin.Path, plugin.Checksum, args, cfg.NodeAttestor)
	token := ""
	if cfg.JoinToken != "" {
		attestor = "  NodeAttestor \"join_token\" {\n    plugin_data {}\n  }"
		token = fmt.Sprintf("  join_token        = %q\n", cfg.JoinToken)
	}
	logLevel := cfg.LogLevel
	if logLevel == "" {
		logLevel = "DEBUG"
	}
	conf := fmt.Sprintf(`agent {
  data_dir          = %q
  log_level         = %q
  server_address    = "127.0.0.1"
  server_port       = %d
  socket_path       = %q
  admin_socket_path = %q
  trust_bundle_path = %q
  trust_domain      = %q
%s}

plugins {
%s
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
%s}
%s`, filepath.Join(cfg.Dir, "data"), logLevel, port, a.Socket, filepath.Join(cfg.Dir, "admin", "admin.sock"),
		cfg.Server.BundlePath(tb, cfg.Dir), TrustDomain, token, attestor, cfg.ExtraPlugins, cfg.TopLevel)
	confPath := WriteFile(tb, cfg.Dir, "agent.conf", conf)
	a.Process = Start(tb, cfg.Dir, "spire-agent", bin, "run", "-config", confPath)
	return a
}

// WaitHealthy waits until the agent answers its health check.
func (a *Agent) WaitHealthy(tb testing.TB) {
	tb.Helper()
	a.waitHealthy(tb, func(ctx context.Context) error {
		_, err := Run(ctx, a.Bin, "healthcheck", "-socketPath", a.Socket)
		return err
	})
}

// Restart stops the agent and starts it again with the same directory and
// configuration; it attests again (its key was in memory).
func (a *Agent) Restart(tb testing.TB) {
	tb.Helper()
	a.Process = a.restart(tb, a.Bin, "agent.conf")
	a.WaitHealthy(tb)
}

// AgentInfo is an attested agent as `spire-server agent list/show -output
// json` prints it.
type AgentInfo struct {
	ID              string
	AttestationType string
	Selectors       []string // "type:value"
	Banned          bool
	CanReattest     bool
	ExpiresAt       time.Time
}

type jsonAgent struct {
	ID struct {
		TrustDomain string `json:"trust_domain"`
		Path        string `json:"path"`
	} `json:"id"`
	AttestationType string `json:"attestation_type"`
	Selectors       []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"selectors"`
	Banned            bool   `json:"banned"`
	CanReattest       bool   `json:"can_reattest"`
	X509SVIDExpiresAt string `json:"x509svid_expires_at"`
}

func (j jsonAgent) info() AgentInfo {
	a := AgentInfo{
		ID:              "spiffe://" + j.ID.TrustDomain + j.ID.Path,
		AttestationType: j.AttestationType,
		Banned:          j.Banned,
		CanReattest:     j.CanReattest,
	}
	if secs, err := strconv.ParseInt(j.X509SVIDExpiresAt, 10, 64); err == nil {
		a.ExpiresAt = time.Unix(secs, 0)
	}
	for _, s := range j.Selectors {
		a.Selectors = append(a.Selectors, s.Type+":"+s.Value)
	}
	return a
}

// Agents lists the attested agents.
func (s *Server) Agents(tb testing.TB) []AgentInfo {
	tb.Helper()
	var out struct {
		Agents []jsonAgent `json:"agents"`
	}
	if err := json.Unmarshal([]byte(s.MustCLI(tb, "agent", "list", "-output", "json")), &out); err != nil {
		tb.Fatalf("agent list: %v", err)
	}
	var infos []AgentInfo
	for _, a := range out.Agents {
		infos = append(infos, a.info())
	}
	return infos
}

// Agent shows one agent; the error is the CLI's (for example not found).
func (s *Server) Agent(ctx context.Context, id string) (AgentInfo, error) {
	b, err := s.CLI(ctx, "agent", "show", "-spiffeID", id, "-output", "json")
	if err != nil {
		return AgentInfo{}, err
	}
	var out jsonAgent
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		return AgentInfo{}, fmt.Errorf("agent show: %w", err)
	}
	return out.info(), nil
}

// CreateEntry registers a workload and returns the entry ID.
func (s *Server) CreateEntry(tb testing.TB, parentID, spiffeID string, selectors ...string) string {
	tb.Helper()
	args := []string{"entry", "create", "-parentID", parentID, "-spiffeID", spiffeID, "-output", "json"}
	for _, sel := range selectors {
		args = append(args, "-selector", sel)
	}
	var out struct {
		Results []struct {
			Status struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"status"`
			Entry struct {
				ID string `json:"id"`
			} `json:"entry"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(s.MustCLI(tb, args...)), &out); err != nil {
		tb.Fatalf("entry create: %v", err)
	}
	if len(out.Results) != 1 || out.Results[0].Status.Code != 0 {
		tb.Fatalf("entry create: %+v", out.Results)
	}
	return out.Results[0].Entry.ID
}

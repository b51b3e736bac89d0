package attestation

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hwattest/hwattest/internal/hclconf"
)

// Defaults of the configuration.
const (
	// DefaultServerSocket is SPIRE server's default socket_path.
	DefaultServerSocket = "/tmp/spire-server/private/api.sock"
	// DefaultRefreshInterval: how often cached answers are fetched again.
	DefaultRefreshInterval = 5 * time.Second
	// DefaultMaxAge: an answer older than this is not used; the request
	// fetches it again (and fails when the API does not answer).
	DefaultMaxAge = 30 * time.Second
	// DefaultCacheSize: SPIFFE IDs whose answers are kept. One answer is
	// about a KiB (the selectors of its entries and their parents).
	DefaultCacheSize = 10000
	// DefaultTimeout bounds one lookup (all its API calls).
	DefaultTimeout = 5 * time.Second
	// DefaultAgentTTL is SPIRE server's default agent SVID lifetime
	// (default_x509_svid_ttl, 1h, when agent_ttl is not set).
	DefaultAgentTTL = time.Hour
)

// Config is the plugin's HCL configuration.
type Config struct {
	// ServerSocket is the SPIRE server's socket_path (its local API).
	ServerSocket string `hcl:"server_socket_path"`
	// RefreshInterval: cached answers are fetched again this often (a Go
	// duration).
	RefreshInterval string `hcl:"refresh_interval"`
	// MaxAge: an answer older than this is fetched again by the request.
	MaxAge string `hcl:"max_age"`
	// CacheSize is the number of SPIFFE IDs kept, least recently used
	// dropped first.
	CacheSize int `hcl:"cache_size"`
	// Timeout bounds one lookup.
	Timeout string `hcl:"timeout"`
	// AgentTTL must equal the server's agent_ttl (or its
	// default_x509_svid_ttl when agent_ttl is unset): the node's
	// attestation time is its agent SVID's expiry minus this.
	AgentTTL string `hcl:"agent_ttl"`
	// FailOpen issues SVIDs without claims when the SPIRE API does not
	// answer, instead of refusing them.
	FailOpen bool `hcl:"fail_open"`
}

// config is the validated configuration.
type config struct {
	socket          string
	refreshInterval time.Duration
	maxAge          time.Duration
	cacheSize       int
	timeout         time.Duration
	agentTTL        time.Duration
	failOpen        bool
}

// buildConfig parses and validates HCL, reporting every problem at once.
func buildConfig(text string) (*config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	out := &config{
		socket:          DefaultServerSocket,
		refreshInterval: DefaultRefreshInterval,
		maxAge:          DefaultMaxAge,
		cacheSize:       DefaultCacheSize,
		timeout:         DefaultTimeout,
		agentTTL:        DefaultAgentTTL,
		failOpen:        c.FailOpen,
	}
	if c.ServerSocket != "" {
		if !filepath.IsAbs(c.ServerSocket) {
			errs = append(errs, fmt.Errorf("server_socket_path %q: must be an absolute path", c.ServerSocket))
		}
		out.socket = c.ServerSocket
	}
	for _, d := range []struct {
		key, text string
		dst       *time.Duration
	}{
		{"refresh_interval", c.RefreshInterval, &out.refreshInterval},
		{"max_age", c.MaxAge, &out.maxAge},
		{"timeout", c.Timeout, &out.timeout},
		{"agent_ttl", c.AgentTTL, &out.agentTTL},
	} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s %q: not a duration (like \"5s\")", d.key, d.text))
		case v <= 0:
			errs = append(errs, fmt.Errorf("%s %q: must be positive", d.key, d.text))
		default:
			*d.dst = v
		}
	}
	if out.maxAge < out.refreshInterval {
		errs = append(errs, fmt.Errorf("max_age %s: must be at least refresh_interval %s", out.maxAge, out.refreshInterval))
	}
	switch {
	case c.CacheSize < 0:
		errs = append(errs, fmt.Errorf("cache_size %d: must be positive", c.CacheSize))
	case c.CacheSize > 0:
		out.cacheSize = c.CacheSize
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

package container

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

// Defaults of the configuration.
const (
	// DefaultCacheSize is the default number of containers cached. An
	// entry takes well under a KiB, so the default costs about a MiB at
	// most; a node runs at most a few hundred containers.
	DefaultCacheSize = 1024
	// DefaultCacheTTL is how long a runtime's answer is reused at most.
	// Containers do not change image; the TTL only bounds how long an
	// answer outlives a container whose deletion was not noticed.
	DefaultCacheTTL = 5 * time.Minute
	// DefaultTimeout bounds one lookup in one runtime.
	DefaultTimeout = 5 * time.Second
)

// Config is the plugin's HCL configuration.
type Config struct {
	// Runtimes are the runtimes asked, by name: `runtime "<name>" { ... }`.
	// The name is the runtime:<name> selector's value.
	Runtimes map[string]RuntimeConfig `hcl:"runtime"`
	// CacheSize is the number of containers whose answers are kept, least
	// recently used dropped first (default DefaultCacheSize).
	CacheSize int `hcl:"cache_size"`
	// CacheTTL is how long an answer is kept at most, as a Go duration
	// (default "5m").
	CacheTTL string `hcl:"cache_ttl"`
	// Timeout bounds one lookup in one runtime, as a Go duration (default
	// "5s").
	Timeout string `hcl:"timeout"`

	// Provenance are the image provenance policies, by name:
	// `provenance "<name>" { ... }`; each satisfied one is a
	// provenance:<name> selector. None: no provenance lookups.
	Provenance map[string]provenance.PolicyConfig `hcl:"provenance"`
	// ProvenanceBundleDir is a directory of bundles for hosts that cannot
	// reach the registry: DIR/sha256-<hex>/*.json.
	ProvenanceBundleDir string `hcl:"provenance_bundle_dir"`
	// ProvenanceOffline, when true, reads bundles from the bundle
	// directory only, never from a registry.
	ProvenanceOffline bool `hcl:"provenance_offline"`
	// ProvenanceTimeout is the time budget of one image's registry lookup
	// (default "2s").
	ProvenanceTimeout string `hcl:"provenance_timeout"`
	// ProvenanceCacheSize is the number of images whose results are kept
	// (default 1024).
	ProvenanceCacheSize int `hcl:"provenance_cache_size"`
	// ProvenanceCacheTTL is how long a result is reused (default "10m").
	ProvenanceCacheTTL string `hcl:"provenance_cache_ttl"`
	// ProvenanceFailureTTL is how long the result of a registry that
	// could not be asked is reused (default "10s").
	ProvenanceFailureTTL string `hcl:"provenance_failure_ttl"`
}

// RuntimeConfig is one `runtime "<name>" { ... }` block.
type RuntimeConfig struct {
	// Type is the runtime's API: "containerd" or "docker" (the Docker
	// Engine API, also podman's). Default: the block's name, when that is
	// one of them.
	Type string `hcl:"type"`
	// Address is the API's unix socket: a path or unix:///path.
	Address string `hcl:"address"`
}

// config is the validated configuration.
type config struct {
	runtimes  []runtimeConfig // sorted by name
	cacheSize int
	cacheTTL  time.Duration
	timeout   time.Duration
	// provenance is nil when no policy is configured.
	provenance *provenanceConfig
}

// provenanceConfig is the validated provenance part of the configuration.
type provenanceConfig struct {
	policies                      []*provenance.Policy
	dir                           string
	offline                       bool
	cacheSize                     int
	timeout, cacheTTL, failureTTL time.Duration
}

// runtimeConfig is a validated runtime block.
type runtimeConfig struct {
	name, typ, socket string
}

// runtimeName is what a runtime block's name may be: it becomes a selector
// value and appears in logs and errors.
var runtimeName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// buildConfig parses and validates HCL, reporting every problem at once.
func buildConfig(text string) (*config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	blocks, blockErrs := checkRuntimeBlocks(text)
	errs = append(errs, blockErrs...)
	out := &config{cacheSize: c.CacheSize, cacheTTL: DefaultCacheTTL, timeout: DefaultTimeout}
	if blocks == 0 {
		errs = append(errs, errors.New(`no runtime configured: add runtime "containerd" { address = "/run/containerd/containerd.sock" } or runtime "docker" { address = "/var/run/docker.sock" }`))
	}
	names := make([]string, 0, len(c.Runtimes))
	for name := range c.Runtimes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		rc := c.Runtimes[name]
		r := runtimeConfig{name: name, typ: rc.Type}
		if !runtimeName.MatchString(name) {
			errs = append(errs, fmt.Errorf("runtime %q: name must be 1-63 lowercase letters, digits, '.', '_' or '-'", name))
		}
		if r.typ == "" && (name == TypeContainerd || name == TypeDocker) {
			r.typ = name
		}
		switch r.typ {
		case TypeContainerd, TypeDocker:
		case "":
			errs = append(errs, fmt.Errorf("runtime %q: type is needed (containerd or docker)", name))
		default:
			errs = append(errs, fmt.Errorf("runtime %q: type %q: want containerd or docker", name, r.typ))
		}
		socket, err := socketPath(rc.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("runtime %q: %w", name, err))
		}
		r.socket = socket
		out.runtimes = append(out.runtimes, r)
	}
	switch {
	case c.CacheSize < 0:
		errs = append(errs, fmt.Errorf("cache_size %d: must be positive", c.CacheSize))
	case c.CacheSize == 0:
		out.cacheSize = DefaultCacheSize
	}
	if d, err := duration("cache_ttl", c.CacheTTL); err != nil {
		errs = append(errs, err)
	} else if d > 0 {
		out.cacheTTL = d
	}
	if d, err := duration("timeout", c.Timeout); err != nil {
		errs = append(errs, err)
	} else if d > 0 {
		out.timeout = d
	}
	pc, perrs := buildProvenance(&c)
	errs = append(errs, perrs...)
	out.provenance = pc
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// buildProvenance validates the provenance part of c; nil when no policy
// is configured (then the other provenance keys are refused, so that a
// forgotten policy block does not silently turn provenance off).
func buildProvenance(c *Config) (*provenanceConfig, []error) {
	var errs []error
	if len(c.Provenance) == 0 {
		if c.ProvenanceBundleDir != "" || c.ProvenanceOffline || c.ProvenanceTimeout != "" || c.ProvenanceCacheSize != 0 ||
			c.ProvenanceCacheTTL != "" || c.ProvenanceFailureTTL != "" {
			errs = append(errs, errors.New(`provenance_* settings without a provenance "<name>" { ... } policy`))
		}
		return nil, errs
	}
	pc := &provenanceConfig{
		dir: c.ProvenanceBundleDir, offline: c.ProvenanceOffline, cacheSize: provenance.DefaultCacheSize,
		timeout: provenance.DefaultTimeout, cacheTTL: provenance.DefaultCacheTTL, failureTTL: provenance.DefaultFailureTTL,
	}
	policies, err := provenance.CompilePolicies(c.Provenance)
	if err != nil {
		errs = append(errs, err)
	}
	pc.policies = policies
	if pc.dir != "" && !filepath.IsAbs(pc.dir) {
		errs = append(errs, fmt.Errorf("provenance_bundle_dir %q: want an absolute path", pc.dir))
	}
	if pc.offline && pc.dir == "" {
		errs = append(errs, errors.New("provenance_offline without provenance_bundle_dir: no bundle could ever be found"))
	}
	switch {
	case c.ProvenanceCacheSize < 0:
		errs = append(errs, fmt.Errorf("provenance_cache_size %d: must be positive", c.ProvenanceCacheSize))
	case c.ProvenanceCacheSize > 0:
		pc.cacheSize = c.ProvenanceCacheSize
	}
	for _, d := range []struct {
		key, val string
		to       *time.Duration
	}{
		{"provenance_timeout", c.ProvenanceTimeout, &pc.timeout},
		{"provenance_cache_ttl", c.ProvenanceCacheTTL, &pc.cacheTTL},
		{"provenance_failure_ttl", c.ProvenanceFailureTTL, &pc.failureTTL},
	} {
		if v, err := duration(d.key, d.val); err != nil {
			errs = append(errs, err)
		} else if v > 0 {
			*d.to = v
		}
	}
	return pc, errs
}

// socketPath returns the socket path of address: "/path" or
// "unix:///path".
func socketPath(address string) (string, error) {
	if address == "" {
		return "", errors.New("address is needed (a unix socket: /path or unix:///path)")
	}
	p := strings.TrimPrefix(address, "unix://")
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("address %q: want a unix socket, /path or unix:///path", address)
	}
	return filepath.Clean(p), nil
}

// duration parses an optional positive Go duration ("" is 0).
func duration(key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s %q: must be positive", key, s)
	}
	return d, nil
}

// checkRuntimeBlocks counts the runtime blocks and finds what decoding into
// a map hides: a runtime block without a name or with more than one (two
// blocks of one name are reported by hclconf.Decode). Text that does not
// parse counts as one block: hclconf.Decode reports it.
func checkRuntimeBlocks(text string) (blocks int, errs []error) {
	file, err := hcl.Parse(text)
	if err != nil {
		return 1, nil
	}
	list, ok := file.Node.(*ast.ObjectList)
	if !ok {
		return 1, nil
	}
	for _, item := range list.Items {
		if len(item.Keys) == 0 {
			continue
		}
		switch strings.Trim(item.Keys[0].Token.Text, `"`) {
		case "provenance":
			if len(item.Keys) != 2 {
				errs = append(errs, fmt.Errorf(`provenance blocks take one name: provenance "<name>" { ... } (line %d)`, item.Pos().Line))
			}
			continue
		case "runtime":
		default:
			continue
		}
		blocks++
		if len(item.Keys) != 2 {
			errs = append(errs, fmt.Errorf(`runtime blocks take one name: runtime "<name>" { ... } (line %d)`, item.Pos().Line))
			continue
		}
	}
	return blocks, errs
}

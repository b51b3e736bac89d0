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
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
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
		if len(item.Keys) == 0 || strings.Trim(item.Keys[0].Token.Text, `"`) != "runtime" {
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

package exe

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/internal/pluginmetrics"
)

// Name is the plugin name; SPIRE stores selectors as "exe:<value>".
const Name = "exe"

// Selector values (without the plugin name).
const (
	// SelectorSHA256 prefixes the hex SHA-256 of the executable.
	SelectorSHA256 = "sha256:"
	// SelectorPath prefixes the executable's path as the process sees it.
	SelectorPath = "path:"
	// SelectorIMAMeasured says the node's IMA log, which replays to the
	// TPM's PCR 10, holds an entry of the executable's path (as the kernel
	// names it) with the executable's hash.
	SelectorIMAMeasured = "ima:measured"
)

// Log field names.
const (
	logPID     = "pid"
	logPath    = "path"
	logSHA256  = "sha256"
	logCached  = "cached"
	logViaExe  = "via_proc_exe"
	logIMA     = "ima_measured"
	logError   = "error"
	logIMALog  = "ima_log_path"
	logTPM     = "tpm"
	logEntries = "entries"
)

var _ workloadattestorv1.WorkloadAttestorServer = (*Plugin)(nil)

// Plugin is the exe workload attestor.
type Plugin struct {
	workloadattestorv1.UnsafeWorkloadAttestorServer
	configv1.UnsafeConfigServer

	hasher      hasher
	missRefresh time.Duration

	mu      sync.RWMutex
	state   *state
	log     hclog.Logger
	metrics pluginmetrics.Recorder
}

// state is what one Configure call sets up.
type state struct {
	config *config
	cache  *hashCache
	ima    *imaAnchor // nil without IMA anchoring
}

// New returns an unconfigured plugin.
func New() *Plugin {
	return &Plugin{hasher: sha256Hasher{}, missRefresh: DefaultMissRefresh, log: hclog.NewNullLogger()}
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// Configure implements configv1.ConfigServer. Cached hashes survive a
// reconfiguration that keeps hash_cache_size; the IMA anchor starts afresh.
func (p *Plugin) Configure(_ context.Context, req *configv1.ConfigureRequest) (*configv1.ConfigureResponse, error) {
	c, err := buildConfig(req.HclConfiguration)
	if err != nil {
		return nil, plugincfg.Invalid(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &state{config: c}
	if old := p.state; old != nil && old.config.hashCacheSize == c.hashCacheSize {
		s.cache = old.cache
	} else {
		s.cache = newHashCache(c.hashCacheSize)
	}
	if c.ima != nil {
		s.ima = newIMAAnchor(c.ima, p.log, p.missRefresh)
	}
	p.state = s
	return &configv1.ConfigureResponse{}, nil
}

// Validate implements configv1.ConfigServer with Configure's checks.
func (p *Plugin) Validate(_ context.Context, req *configv1.ValidateRequest) (*configv1.ValidateResponse, error) {
	_, err := buildConfig(req.HclConfiguration)
	return plugincfg.Validation(err), nil
}

// Attest implements workloadattestorv1.WorkloadAttestorServer: the selectors
// of the executable process req.Pid runs.
func (p *Plugin) Attest(_ context.Context, req *workloadattestorv1.AttestRequest) (_ *workloadattestorv1.AttestResponse, err error) {
	defer func(start time.Time) { p.observe(start, err) }(time.Now())
	p.mu.RLock()
	s := p.state
	p.mu.RUnlock()
	if s == nil {
		return nil, status.Error(codes.FailedPrecondition, "not configured")
	}
	pid := req.GetPid()
	if pid <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "pid %d is not a process ID", pid)
	}
	m, err := measure(pid, s.config.maxHashSize, s.cache, p.hasher)
	if err != nil {
		code := errorCode(err)
		if code == codes.FailedPrecondition {
			p.log.Warn("Executable not measured", logPID, pid, logError, err)
		} else {
			p.log.Debug("Executable not measured", logPID, pid, logError, err)
		}
		return nil, status.Error(code, err.Error())
	}
	if m.cached {
		p.metrics.Incr(metricCache, "result", "hit")
	} else {
		p.metrics.Incr(metricCache, "result", "miss")
	}
	sum := hex.EncodeToString(m.sum[:])
	selectors := []string{SelectorSHA256 + sum, SelectorPath + m.path}
	measured := s.ima != nil && s.ima.measured(m.sum, m.kernelPath)
	if measured {
		selectors = append(selectors, SelectorIMAMeasured)
	}
	p.log.Debug("Executable measured", logPID, pid, logPath, m.path, logSHA256, sum,
		logCached, m.cached, logViaExe, m.viaExe, logIMA, measured)
	return &workloadattestorv1.AttestResponse{SelectorValues: selectors}, nil
}

// errorCode is the gRPC code for a measurement error.
func errorCode(err error) codes.Code {
	switch {
	case errors.Is(err, errNoProcess):
		return codes.NotFound
	case errors.Is(err, errNoExecutable), errors.Is(err, errDeleted), errors.Is(err, errReplaced), errors.Is(err, errChanged),
		errors.Is(err, errUnverifiable):
		return codes.FailedPrecondition
	case errors.Is(err, errTooLarge):
		return codes.ResourceExhausted
	case errors.Is(err, errUnsupported):
		return codes.Unimplemented
	default:
		return codes.Internal
	}
}

package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/internal/pluginmetrics"
	"github.com/hwattest/hwattest/workloadattestor/container/cgroups"
	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

// Name is the plugin name; SPIRE stores selectors as "container:<value>".
const Name = "container"

// Selector prefixes (without the plugin name).
const (
	// SelectorContainerID prefixes the container ID.
	SelectorContainerID = "container_id:"
	// SelectorRuntime prefixes the name of the configured runtime that
	// knows the container.
	SelectorRuntime = "runtime:"
	// SelectorImage prefixes the image reference the container was
	// created with (often a tag: it pins nothing).
	SelectorImage = "image:"
	// SelectorImageID prefixes the image ID ("sha256:<hex>").
	SelectorImageID = "image_id:"
	// SelectorImageDigest prefixes a repository digest of the image
	// ("sha256:<hex>").
	SelectorImageDigest = "image_digest:"
	// SelectorPodUID prefixes the Kubernetes pod UID.
	SelectorPodUID = "pod_uid:"
)

// Log field names.
const (
	logPID         = "pid"
	logContainerID = "container_id"
	logRuntime     = "runtime"
	logNamespace   = "namespace"
	logImage       = "image"
	logImageID     = "image_id"
	logDigests     = "image_digests"
	logUnresolved  = "unresolved"
	logPodUID      = "pod_uid"
	logInitPID     = "init_pid"
	logCached      = "cached"
	logError       = "error"
	logDuration    = "duration"
)

var _ workloadattestorv1.WorkloadAttestorServer = (*Plugin)(nil)

// Plugin is the container workload attestor.
type Plugin struct {
	workloadattestorv1.UnsafeWorkloadAttestorServer
	configv1.UnsafeConfigServer

	proc string
	dial dialFunc
	now  func() time.Time
	// registryTransport is the HTTP transport to registries (nil: the
	// default).
	registryTransport http.RoundTripper

	mu      sync.RWMutex
	state   *state
	log     hclog.Logger
	metrics pluginmetrics.Recorder
}

// state is what one Configure call sets up.
type state struct {
	config   *config
	runtimes []namedRuntime // config order: by name
	cache    *cache
	// checker verifies image provenance; nil when no policy is
	// configured.
	checker *provenance.Checker
}

type namedRuntime struct {
	name, typ string
	runtime
}

// New returns an unconfigured plugin that reads /proc and talks to the
// runtimes' sockets.
func New() *Plugin {
	return &Plugin{proc: "/proc", dial: dial, now: time.Now, log: hclog.NewNullLogger()}
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// Configure implements configv1.ConfigServer. A reconfiguration starts with
// new runtime clients and an empty cache; the old clients are closed once
// requests that may still use them are done.
func (p *Plugin) Configure(_ context.Context, req *configv1.ConfigureRequest) (*configv1.ConfigureResponse, error) {
	c, err := buildConfig(req.HclConfiguration)
	if err != nil {
		return nil, plugincfg.Invalid(err)
	}
	s := &state{config: c, cache: newCache(c.cacheSize, c.cacheTTL, p.now)}
	if pc := c.provenance; pc != nil {
		var reg provenance.Source
		if !pc.offline {
			reg = provenance.NewRegistry(p.registryTransport)
		}
		s.checker = provenance.NewChecker(pc.policies, provenance.Dir(pc.dir), reg, pc.cacheSize, p.now)
		s.checker.Timeout, s.checker.CacheTTL, s.checker.FailureTTL = pc.timeout, pc.cacheTTL, pc.failureTTL
	}
	for _, rc := range c.runtimes {
		r, err := p.dial(rc.typ, rc.socket)
		if err != nil {
			closeRuntimes(s.runtimes)
			return nil, status.Errorf(codes.Internal, "runtime %q: %v", rc.name, err)
		}
		s.runtimes = append(s.runtimes, namedRuntime{name: rc.name, typ: rc.typ, runtime: r})
	}
	p.mu.Lock()
	old := p.state
	p.state = s
	p.mu.Unlock()
	if old != nil {
		time.AfterFunc(old.config.timeout+time.Second, func() { closeRuntimes(old.runtimes) })
	}
	return &configv1.ConfigureResponse{}, nil
}

func closeRuntimes(rs []namedRuntime) {
	for _, r := range rs {
		_ = r.Close()
	}
}

// Validate implements configv1.ConfigServer with Configure's checks.
func (p *Plugin) Validate(_ context.Context, req *configv1.ValidateRequest) (*configv1.ValidateResponse, error) {
	_, err := buildConfig(req.HclConfiguration)
	return plugincfg.Validation(err), nil
}

// Attest implements workloadattestorv1.WorkloadAttestorServer: the selectors
// of the container process req.Pid runs in, none when it runs in none.
func (p *Plugin) Attest(ctx context.Context, req *workloadattestorv1.AttestRequest) (resp *workloadattestorv1.AttestResponse, err error) {
	defer func(start time.Time) { p.observe(start, resp.GetSelectorValues(), err) }(time.Now())
	p.mu.RLock()
	s := p.state
	p.mu.RUnlock()
	if s == nil {
		return nil, status.Error(codes.FailedPrecondition, "not configured")
	}
	pid := int(req.GetPid())
	if pid <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "pid %d is not a process ID", pid)
	}
	w, err := cgroups.Read(p.proc, pid)
	if err != nil {
		p.log.Debug("Process not read", logPID, pid, logError, err)
		return nil, status.Error(findErrorCode(err), err.Error())
	}
	c, ok, err := w.Container()
	if err != nil {
		p.log.Debug("Container not identified", logPID, pid, logError, err)
		return nil, status.Error(findErrorCode(err), err.Error())
	}
	if !ok {
		if w.ForeignUserNS {
			p.log.Debug("Mounts not used: the process is in another user namespace", logPID, pid)
		}
		return &workloadattestorv1.AttestResponse{}, nil
	}
	e, cached, err := p.lookup(ctx, s, c)
	if err != nil {
		p.log.Warn("Container not attested", logPID, pid, logContainerID, c.ID, logError, err)
		return nil, err
	}
	p.metrics.Incr(metricCache, "result", cacheResult(cached))
	// The cgroup path or mount that named the container is the
	// workload's own doing: only the container's process, which the
	// runtime reported, says whether the workload is in it.
	if err := cgroups.Confirm(w, c, e.init); err != nil {
		p.log.Warn("Process not in the container it names", logPID, pid, logContainerID, c.ID,
			logRuntime, e.runtime, logInitPID, e.init.PID, logError, err)
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	selectors := e.selectors
	if c.PodUID != "" {
		selectors = append(selectors[:len(selectors):len(selectors)], SelectorPodUID+c.PodUID)
	}
	if s.checker != nil {
		selectors = append(selectors[:len(selectors):len(selectors)], p.provenance(ctx, s.checker, e)...)
	}
	// Only a lookup is logged, not every cached answer: the plugin SDK's
	// logger is at Trace in the plugin process whatever the agent's level,
	// so each line is JSON-encoded, written to the agent through a pipe and
	// decoded there even when the agent drops it (measured: it was most of
	// what a cached Attest cost a workload API fetch; SPIRE logs the
	// selectors of every attestation itself at debug level).
	if !cached && p.log.IsDebug() {
		p.log.Debug("Container attested", logPID, pid, logContainerID, c.ID, logRuntime, e.runtime,
			logImage, e.info.Image, logImageID, e.info.ImageID, logDigests, e.info.ImageDigests, logPodUID, c.PodUID,
			logInitPID, e.init.PID, logCached, cached)
	}
	return &workloadattestorv1.AttestResponse{SelectorValues: selectors}, nil
}

// findErrorCode is the gRPC code for an error of cgroups.Read or
// Process.Container.
func findErrorCode(err error) codes.Code {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return codes.NotFound
	case errors.Is(err, cgroups.ErrConflict), errors.Is(err, cgroups.ErrNoContainerID):
		return codes.FailedPrecondition
	default:
		return codes.Internal
	}
}

// lookup returns the runtime's answer about container c: from the cache
// while the container's process it names still runs, else from the
// runtimes. The error is a gRPC status.
func (p *Plugin) lookup(ctx context.Context, s *state, c cgroups.Container) (e *entry, cached bool, err error) {
	if e := s.cache.get(c.ID); e != nil {
		if st, err := startTime(p.proc, e.init.PID); err == nil && st == e.init.Start {
			return e, true, nil
		}
		// The container's process exited: the container may have been
		// deleted and its ID reused.
		s.cache.drop(c.ID, e)
	}
	return s.cache.load(c.ID, func() (*entry, error) {
		return p.fetch(ctx, s, c)
	})
}

// fetch asks the runtimes about container c, those whose layout the cgroup
// shows first, and returns the first answer. The error is a gRPC status
// naming every runtime asked.
func (p *Plugin) fetch(ctx context.Context, s *state, c cgroups.Container) (*entry, error) {
	ctx = context.WithoutCancel(ctx) // shared with concurrent requests
	var (
		outcomes    []string
		unavailable bool
	)
	for _, r := range preferred(s.runtimes, c.Runtime) {
		rctx, cancel := context.WithTimeout(ctx, s.config.timeout)
		began := p.now()
		info, err := r.Inspect(rctx, c.ID)
		cancel()
		if errors.Is(err, errNotFound) {
			outcomes = append(outcomes, fmt.Sprintf("runtime %q does not know it", r.name))
			continue
		}
		if err != nil {
			p.log.Warn("Runtime did not answer", logRuntime, r.name, logContainerID, c.ID, logError, err)
			p.metrics.Incr(metricRuntimeErrors, "runtime", r.name)
			outcomes = append(outcomes, fmt.Sprintf("runtime %q did not answer: %v", r.name, err))
			unavailable = true
			continue
		}
		// The first runtime that knows the container answers for it,
		// and its process decides: another runtime is not asked for a
		// container of the same ID that the process might be in.
		if info.InitPID <= 0 {
			return nil, status.Errorf(codes.PermissionDenied, "container %s: runtime %q reports no running process: no process is in it", c.ID, r.name)
		}
		init, err := cgroups.Read(p.proc, info.InitPID)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, status.Errorf(codes.PermissionDenied, "container %s: runtime %q reports process %d, which is gone: %v", c.ID, r.name, info.InitPID, err)
		}
		if err != nil {
			return nil, status.Errorf(codes.Internal, "container %s: runtime %q reports process %d: %v", c.ID, r.name, info.InitPID, err)
		}
		e := &entry{id: c.ID, runtime: r.name, info: info, selectors: selectorsOf(c.ID, r.name, info), init: init}
		fields := []any{logContainerID, c.ID, logRuntime, r.name, logImage, info.Image, logImageID, info.ImageID,
			logDigests, info.ImageDigests, logInitPID, info.InitPID, logDuration, p.now().Sub(began).String()}
		if info.Namespace != "" {
			fields = append(fields, logNamespace, info.Namespace)
		}
		if info.Unresolved != "" {
			fields = append(fields, logUnresolved, info.Unresolved)
			p.log.Info("Container looked up; image digest not resolved", fields...)
		} else {
			p.log.Debug("Container looked up", fields...)
		}
		return e, nil
	}
	code := codes.NotFound
	if unavailable {
		code = codes.Unavailable
	}
	return nil, status.Errorf(code, "container %s: %s", c.ID, strings.Join(outcomes, "; "))
}

// preferred orders runtimes for a container whose cgroup layout belongs
// to guess: runtimes of the API that runtime serves first, the rest after,
// each group in configuration order.
func preferred(rs []namedRuntime, guess cgroups.Runtime) []namedRuntime {
	var want string
	switch guess {
	case cgroups.RuntimeContainerd:
		want = TypeContainerd
	case cgroups.RuntimeDocker, cgroups.RuntimePodman:
		want = TypeDocker
	default:
		return rs
	}
	out := make([]namedRuntime, 0, len(rs))
	for _, r := range rs {
		if r.typ == want {
			out = append(out, r)
		}
	}
	for _, r := range rs {
		if r.typ != want {
			out = append(out, r)
		}
	}
	return out
}

// selectorsOf returns the selectors of a container (without pod_uid).
func selectorsOf(id, runtime string, info containerInfo) []string {
	s := []string{SelectorContainerID + id, SelectorRuntime + runtime}
	if info.Image != "" {
		s = append(s, SelectorImage+info.Image)
	}
	if info.ImageID != "" {
		s = append(s, SelectorImageID+info.ImageID)
	}
	for _, d := range sortedDigests(info.ImageDigests) {
		s = append(s, SelectorImageDigest+d)
	}
	return s
}

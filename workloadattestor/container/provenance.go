package container

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

// Log field names of provenance checks.
const (
	logRepository = "repository"
	logDigest     = "digest"
	logOrigin     = "origin"
	logPolicy     = "policy"
	logSatisfied  = "satisfied"
	logBundles    = "bundles"
	logReason     = "reason"
)

// provenance returns the provenance selectors of container entry e: for
// each of its digests, from the repository it came from (and the bundle
// directory), the selectors of the bundles that satisfied a policy, and
// provenance_status:unavailable when a registry could not be asked. A
// digest with no known repository is looked up in the bundle directory
// only.
func (p *Plugin) provenance(ctx context.Context, c *provenance.Checker, e *entry) []string {
	refs := e.info.RepoDigests
	for _, d := range e.info.ImageDigests {
		if !slices.ContainsFunc(refs, func(rd string) bool { return strings.HasSuffix(rd, "@"+d) }) {
			refs = append(refs[:len(refs):len(refs)], "@"+d)
		}
	}
	var out []string
	for _, rd := range refs {
		i := strings.LastIndexByte(rd, '@')
		repo, digest := rd[:i], rd[i+1:]
		began := p.now()
		res, cached := c.Check(ctx, repo, digest)
		if !cached {
			p.logProvenance(e, res, p.now().Sub(began))
			p.metrics.Incr(metricProvenance, "result", provenanceResult(res.Unavailable != nil, len(res.Satisfied)))
		}
		out = append(out, res.Selectors()...)
	}
	if len(refs) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

// logProvenance logs what a provenance check found: every bundle refused
// and why, each policy a verified bundle did not satisfy and why, and an
// unavailable registry.
func (p *Plugin) logProvenance(e *entry, r *provenance.Result, took time.Duration) {
	base := []any{logContainerID, e.id, logRepository, r.Repository, logDigest, r.Digest}
	if r.Unavailable != nil {
		p.log.Warn("Provenance unavailable: registry not asked; no provenance selector from it",
			append(base, logError, r.Unavailable.Error(), logDuration, took.String())...)
	}
	for _, b := range r.Bundles {
		if b.Err != nil {
			p.log.Warn("Provenance bundle refused", append(base, logOrigin, b.Origin, logReason, b.Err.Error())...)
			continue
		}
		for _, po := range b.Policies {
			if po.Err != nil {
				p.log.Info("Provenance policy not satisfied by bundle",
					append(base, logOrigin, b.Origin, logPolicy, po.Policy, logReason, po.Err.Error())...)
			}
		}
	}
	p.log.Info("Image provenance checked", append(base, logSatisfied, r.Satisfied, logBundles, len(r.Bundles),
		logDuration, took.String())...)
}

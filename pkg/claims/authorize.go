package claims

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/veraison/ear"
)

// Selectors the requirements below look for, as the hwattest plugins emit
// them under their documented plugin names (docs/nodeattestor-tpm.md,
// docs/workloadattestor-container.md).
const (
	selectorNodePolicy  = "tpm:policy:"
	selectorSecureBoot  = "tpm:secureboot:enabled"
	selectorImageDigest = "container:image_digest:"
	selectorProvenance  = "container:provenance:"
)

// A Requirement is one condition on the claims of a peer's SVID. It returns
// nil when the claims meet it, or an error saying what is missing.
type Requirement func(c *Claims, now time.Time) error

// Check applies every requirement to c, at time now, and returns the first
// failure.
func Check(c *Claims, now time.Time, reqs ...Requirement) error {
	for _, r := range reqs {
		if err := r(c, now); err != nil {
			return err
		}
	}
	return nil
}

// Authorize returns a go-spiffe authorizer that first applies id (such as
// tlsconfig.AuthorizeID or tlsconfig.AuthorizeMemberOf), then decodes the
// claims of the peer's leaf certificate and applies every requirement. A
// peer without claims, or with claims this package cannot read, is refused,
// whatever the requirements: use id alone to admit peers without claims.
// A nil id refuses every peer.
func Authorize(id tlsconfig.Authorizer, reqs ...Requirement) tlsconfig.Authorizer {
	return func(peer spiffeid.ID, chains [][]*x509.Certificate) error {
		if id == nil {
			return errors.New("claims: no identity authorizer")
		}
		if err := id(peer, chains); err != nil {
			return err
		}
		if len(chains) == 0 || len(chains[0]) == 0 {
			return errors.New("claims: no verified chain")
		}
		c, err := FromCertificate(chains[0][0])
		if err != nil {
			return fmt.Errorf("peer %s: %w", peer, err)
		}
		if err := Check(c, time.Now(), reqs...); err != nil {
			return fmt.Errorf("peer %s: %w", peer, err)
		}
		return nil
	}
}

// RequireStatus requires every submod's status to be at least tier
// (affirming is best, then warning, then contraindicated). A status of none
// (no claim) never passes.
func RequireStatus(tier ear.TrustTier) Requirement {
	return func(c *Claims, _ time.Time) error {
		for _, s := range []struct {
			name string
			a    *Appraisal
		}{{SubmodNode, c.Node}, {SubmodWorkload, c.Workload}} {
			if s.a == nil {
				continue
			}
			if s.a.Status == ear.TrustTierNone || s.a.Status > tier {
				return fmt.Errorf("claims: %s status %s, need %s", s.name, s.a.Status, tier)
			}
		}
		return nil
	}
}

// RequireImageDigest requires the workload to run a container image whose
// repository digest (container:image_digest:<digest>) is one of digests.
func RequireImageDigest(digests ...string) Requirement {
	return func(c *Claims, _ time.Time) error {
		have := c.Workload.SelectorValues(selectorImageDigest)
		for _, d := range digests {
			for _, h := range have {
				if h == d {
					return nil
				}
			}
		}
		if len(have) == 0 {
			return errors.New("claims: no image digest in the workload claims")
		}
		return fmt.Errorf("claims: image digest %s is not one of the %d allowed", strings.Join(have, ", "), len(digests))
	}
}

// RequireNodePolicy requires the node to have satisfied the tpm node
// attestor's policy name (the tpm:policy:<name> selector) for the SVID to be
// issued.
func RequireNodePolicy(name string) Requirement {
	return func(c *Claims, _ time.Time) error {
		if c.Node.HasSelector(selectorNodePolicy + name) {
			return nil
		}
		have := c.Node.SelectorValues(selectorNodePolicy)
		if len(have) == 0 {
			return fmt.Errorf("claims: node policy %q required, the node claims none", name)
		}
		return fmt.Errorf("claims: node policy %q required, the node claims %s", name, strings.Join(have, ", "))
	}
}

// RequireSecureBoot requires the node's verified boot log to have shown UEFI
// secure boot on (tpm:secureboot:enabled).
func RequireSecureBoot() Requirement {
	return RequireSelector(SubmodNode, selectorSecureBoot)
}

// RequireProvenance requires the workload's image to satisfy the container
// attestor's provenance policy name (container:provenance:<name>: signer,
// builder and source as that policy says).
func RequireProvenance(policy string) Requirement {
	return RequireSelector(SubmodWorkload, selectorProvenance+policy)
}

// RequireSelector requires the submod (SubmodNode or SubmodWorkload) to list
// selector ("type:value").
func RequireSelector(submod, selector string) Requirement {
	return func(c *Claims, _ time.Time) error {
		a := c.Node
		if submod == SubmodWorkload {
			a = c.Workload
		} else if submod != SubmodNode {
			return fmt.Errorf("claims: unknown submod %q", submod)
		}
		if a == nil {
			return fmt.Errorf("claims: selector %q required, no %s claims", selector, submod)
		}
		if !a.HasSelector(selector) {
			return fmt.Errorf("claims: %s selector %q required, not claimed", submod, selector)
		}
		return nil
	}
}

// RequireIssuedWithin requires the claims to have been written no longer
// than d ago (and not in the future, beyond a minute of clock skew).
func RequireIssuedWithin(d time.Duration) Requirement {
	return func(c *Claims, now time.Time) error {
		return within("issued", c.IssuedAt, now, d)
	}
}

// RequireNodeAttestedWithin requires the node's last attestation, as SPIRE
// recorded it, to be no older than d. Claims that do not say when the node
// attested (a workload registered under a node alias, which many agents
// match) do not pass.
func RequireNodeAttestedWithin(d time.Duration) Requirement {
	return func(c *Claims, now time.Time) error {
		if c.Node == nil || c.Node.AttestedAt.IsZero() {
			return errors.New("claims: the claims do not say when the node attested")
		}
		return within("node attested", c.Node.AttestedAt, now, d)
	}
}

// clockSkew is how far in the future a time may be.
const clockSkew = time.Minute

func within(what string, t, now time.Time, d time.Duration) error {
	if t.After(now.Add(clockSkew)) {
		return fmt.Errorf("claims: %s at %s, in the future", what, t.Format(time.RFC3339))
	}
	if age := now.Sub(t); age > d {
		return fmt.Errorf("claims: %s %s ago, more than %s", what, age.Round(time.Second), d)
	}
	return nil
}

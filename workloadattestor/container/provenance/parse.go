package provenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Limits on what discovery reads from a registry or a bundle directory.
// They bound the agent's memory and time per image against a registry (or
// a directory writer) that sends more than any honest one would.
const (
	// MaxReferrers is the most referrer descriptors of one digest that are
	// looked at; an index listing more is refused whole ("too many
	// referrers"), since which ones to skip would be the registry's choice.
	MaxReferrers = 64
	// MaxManifestSize bounds a referrers index or a referrer's manifest.
	// Real ones are well under 4 KiB per entry.
	MaxManifestSize = 256 << 10
	// MaxBundleSize bounds one sigstore bundle. A bundle with a certificate
	// chain, a Rekor entry and an SLSA provenance statement is 5-20 KiB;
	// provenance with many materials can reach a few hundred KiB.
	MaxBundleSize = 1 << 20
	// MaxBundles is the most bundles verified for one digest (from the
	// registry and the bundle directory together).
	MaxBundles = 16
	// MaxLayers is the most layers of one referrer manifest looked at.
	MaxLayers = 8
)

// Media types of sigstore bundles as OCI layers. Bundle v0.3 is what
// cosign (with --new-bundle-format), GitHub's artifact attestations and
// sigstore-go write; v0.1 and v0.2 are older clients'.
var bundleMediaTypes = map[string]bool{
	"application/vnd.dev.sigstore.bundle.v0.3+json":          true,
	"application/vnd.dev.sigstore.bundle+json;version=0.3":   true,
	"application/vnd.dev.sigstore.bundle+json;version=0.2":   true,
	"application/vnd.dev.sigstore.bundle+json;version=0.1":   true,
	"application/vnd.dev.sigstore.bundle.v0.3.1+json":        true,
	"application/vnd.dev.sigstore.bundle+json;version=0.3.1": true,
}

// IsBundleMediaType reports whether a layer of media type mt holds a
// sigstore bundle.
func IsBundleMediaType(mt string) bool { return bundleMediaTypes[strings.TrimSpace(mt)] }

// Media types of the manifests a referrer may be. Docker schema 2 manifests
// are not referrers (they have no subject).
const (
	mediaTypeOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeOCIIndex    = "application/vnd.oci.image.index.v1+json"
)

// Descriptor is an OCI content descriptor as discovery uses it.
type Descriptor struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType,omitempty"`
	Digest       string `json:"digest"`
	Size         int64  `json:"size"`
}

var sha256Digest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// IsDigest reports whether s is "sha256:" and 64 lowercase hex digits, the
// only digests discovery follows.
func IsDigest(s string) bool { return len(s) == 71 && sha256Digest.MatchString(s) }

func (d Descriptor) check(max int64) error {
	if !IsDigest(d.Digest) {
		return fmt.Errorf("digest %q is not sha256:<64 lowercase hex>", truncate(d.Digest))
	}
	if d.Size <= 0 || d.Size > max {
		return fmt.Errorf("%s: size %d is not in 1..%d", d.Digest, d.Size, max)
	}
	return nil
}

// ParseReferrers parses a referrers index (the OCI 1.1 referrers API's
// answer or the sha256-<hex> tag fallback's index) and returns the
// descriptors of the referrers that are OCI image manifests, whatever
// their artifactType (registries report it differently: some the config
// media type, some none). It refuses an index that is not one, an index of
// more than MaxReferrers entries, and entries without a valid sha256
// digest and size.
func ParseReferrers(raw []byte) ([]Descriptor, error) {
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("referrers index of %d bytes: more than %d", len(raw), MaxManifestSize)
	}
	var idx struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("referrers index: %w", err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("referrers index: schemaVersion %d, want 2", idx.SchemaVersion)
	}
	if idx.MediaType != "" && idx.MediaType != mediaTypeOCIIndex {
		return nil, fmt.Errorf("referrers index: media type %q, want %s", truncate(idx.MediaType), mediaTypeOCIIndex)
	}
	if len(idx.Manifests) > MaxReferrers {
		return nil, fmt.Errorf("too many referrers: %d, at most %d are read", len(idx.Manifests), MaxReferrers)
	}
	var out []Descriptor
	for i, d := range idx.Manifests {
		if d.MediaType != mediaTypeOCIManifest {
			continue
		}
		if err := d.check(MaxManifestSize); err != nil {
			return nil, fmt.Errorf("referrer %d: %w", i, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// ParseBundleLayers parses a referrer's manifest and returns its layers
// that hold a sigstore bundle (by the layer's media type, not the
// manifest's artifactType). subject is the digest the manifest must refer
// to: a manifest listed as a referrer of one digest but naming another
// subject is refused (the bundle's own statement is checked later too).
func ParseBundleLayers(raw []byte, subject string) ([]Descriptor, error) {
	if len(raw) > MaxManifestSize {
		return nil, fmt.Errorf("manifest of %d bytes: more than %d", len(raw), MaxManifestSize)
	}
	var m struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Layers        []Descriptor `json:"layers"`
		Subject       *Descriptor  `json:"subject"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest: schemaVersion %d, want 2", m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != mediaTypeOCIManifest {
		return nil, fmt.Errorf("manifest: media type %q, want %s", truncate(m.MediaType), mediaTypeOCIManifest)
	}
	if m.Subject == nil {
		return nil, errors.New("manifest: no subject")
	}
	if m.Subject.Digest != subject {
		return nil, fmt.Errorf("manifest: subject %s, want %s", truncate(m.Subject.Digest), subject)
	}
	if len(m.Layers) > MaxLayers {
		return nil, fmt.Errorf("manifest: %d layers, at most %d are read", len(m.Layers), MaxLayers)
	}
	var out []Descriptor
	for i, l := range m.Layers {
		if !IsBundleMediaType(l.MediaType) {
			continue
		}
		if err := l.check(MaxBundleSize); err != nil {
			return nil, fmt.Errorf("manifest: layer %d: %w", i, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// truncate shortens a registry-supplied string for an error message.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

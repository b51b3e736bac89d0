package provenancetest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rawManifest is a manifest pushed as its bytes.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.b, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// emptyConfig is the OCI empty descriptor's content.
var emptyConfig = []byte("{}")

// Attach pushes a referrer manifest of digest (sha256:<hex>, size bytes,
// media type subjectType) in repo whose layer is bundle with media type
// layerType, and returns the referrer manifest's digest. go-containerregistry
// updates the sha256-<hex> referrers tag when the registry has no
// referrers API.
func Attach(repo name.Repository, subject v1.Descriptor, bundle []byte, layerType string, opts ...remote.Option) (string, error) {
	layer := static.NewLayer(bundle, types.MediaType(layerType))
	if err := remote.WriteLayer(repo, layer, opts...); err != nil {
		return "", fmt.Errorf("push bundle: %w", err)
	}
	cfg := static.NewLayer(emptyConfig, "application/vnd.oci.empty.v1+json")
	if err := remote.WriteLayer(repo, cfg, opts...); err != nil {
		return "", fmt.Errorf("push config: %w", err)
	}
	ld, _ := layer.Digest()
	cd, _ := cfg.Digest()
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.OCIManifestSchema1),
		"artifactType":  layerType,
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd.String(), "size": len(emptyConfig)},
		"layers":        []any{map[string]any{"mediaType": layerType, "digest": ld.String(), "size": len(bundle)}},
		"subject":       map[string]any{"mediaType": string(subject.MediaType), "digest": subject.Digest.String(), "size": subject.Size},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw, types.OCIManifestSchema1}, opts...); err != nil {
		return "", fmt.Errorf("push referrer: %w", err)
	}
	return h.String(), nil
}

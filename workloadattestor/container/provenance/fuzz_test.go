package provenance_test

import (
	"strings"
	"testing"

	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

const fuzzSubject = "sha256:5f6682d9f9b646f96881c6321566caf66cdac27faf669f1550dbbfcbc4ae236e"

// FuzzParseReferrers: whatever a registry answers as a referrers index,
// ParseReferrers returns an error or at most MaxReferrers OCI manifest
// descriptors with sha256 digests and bounded sizes.
func FuzzParseReferrers(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.oci.empty.v1+json","digest":"` + fuzzSubject + `","size":600}]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:x","size":-1}]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ds, err := provenance.ParseReferrers(raw)
		if err != nil {
			return
		}
		if len(ds) > provenance.MaxReferrers {
			t.Fatalf("%d referrers", len(ds))
		}
		for _, d := range ds {
			if !provenance.IsDigest(d.Digest) || d.Size <= 0 || d.Size > provenance.MaxManifestSize {
				t.Fatalf("descriptor %+v", d)
			}
		}
	})
}

// FuzzParseBundleLayers: whatever a registry answers as a referrer's
// manifest, ParseBundleLayers returns an error or bundle layers with
// sha256 digests and sizes within MaxBundleSize, for the subject asked.
func FuzzParseBundleLayers(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","digest":"` + fuzzSubject + `","size":4242}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + fuzzSubject + `","size":428}}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1","digest":"sha256:AB","size":9999999}],"subject":{"digest":"` + fuzzSubject + `"}}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[],"subject":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ls, err := provenance.ParseBundleLayers(raw, fuzzSubject)
		if err != nil {
			return
		}
		if len(ls) > provenance.MaxLayers {
			t.Fatalf("%d layers", len(ls))
		}
		if !strings.Contains(string(raw), fuzzSubject) {
			t.Fatal("accepted a manifest for another subject")
		}
		for _, l := range ls {
			if !provenance.IsDigest(l.Digest) || l.Size <= 0 || l.Size > provenance.MaxBundleSize || !provenance.IsBundleMediaType(l.MediaType) {
				t.Fatalf("layer %+v", l)
			}
		}
	})
}

package provenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hwattest/hwattest/internal/readfile"
)

// ErrUnavailable wraps every error of a registry that could not be asked:
// unreachable, slower than the time budget, or answering with a server
// error. Bundles it might hold are unknown, so no conclusion is drawn.
var ErrUnavailable = errors.New("registry unavailable")

// Registry finds bundles attached to an image in its registry: the OCI 1.1
// referrers API, or the referrers tag (sha256-<hex>) where the registry has
// no such API (go-containerregistry's remote.Referrers does both).
//
// cosign's legacy tags (sha256-<hex>.sig, .att) are not read: their
// signatures are "simple signing" payloads and DSSE envelopes without a
// bundle, whose Rekor proof sits in manifest annotations in a format only
// cosign's own (large) module parses; cosign writes bundles as referrers
// since v2.4 (--new-bundle-format, the default in v3), as GitHub's artifact
// attestations and sigstore-go do.
type Registry struct {
	// Options are passed to every go-containerregistry call (transport,
	// authentication).
	Options []remote.Option
}

// NewRegistry returns a Registry that authenticates with the docker
// config.json keychain (and credential helpers) of the agent's user.
func NewRegistry(rt http.RoundTripper) *Registry {
	opts := []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if rt != nil {
		opts = append(opts, remote.WithTransport(rt))
	}
	return &Registry{Options: opts}
}

// Bundles returns the bundles attached to digest in repository repo. The
// error wraps ErrUnavailable when the registry could not be asked; a
// registry that answers with content this package refuses (too many
// referrers, oversized manifests, wrong media types) gives candidates with
// their Err set instead.
func (r *Registry) Bundles(ctx context.Context, repo, digest string) ([]Candidate, error) {
	rep, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repo, err)
	}
	if !IsDigest(digest) {
		return nil, fmt.Errorf("digest %q is not sha256:<hex>", digest)
	}
	opts := append(slices.Clone(r.Options), remote.WithContext(ctx))
	origin := "registry " + rep.Name()
	idx, err := remote.Referrers(rep.Digest(digest), opts...)
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	refs, err := ParseReferrers(raw)
	if err != nil {
		return []Candidate{{Origin: origin + " referrers of " + digest, Err: err}}, nil
	}
	var out []Candidate
	for _, ref := range refs {
		o := origin + " referrer " + ref.Digest
		desc, err := remote.Get(rep.Digest(ref.Digest), opts...)
		if isNotFound(err) {
			out = append(out, Candidate{Origin: o, Err: fmt.Errorf("listed but not found: %w", err)})
			continue
		}
		if err != nil {
			return nil, unavailable(ctx, err)
		}
		if err := checkContent(desc.Manifest, ref.Digest, MaxManifestSize); err != nil {
			out = append(out, Candidate{Origin: o, Err: err})
			continue
		}
		layers, err := ParseBundleLayers(desc.Manifest, digest)
		if err != nil {
			out = append(out, Candidate{Origin: o, Err: err})
			continue
		}
		for _, l := range layers {
			if len(out) >= MaxBundles {
				return append(out, Candidate{Origin: o, Err: fmt.Errorf("more than %d bundles: the rest are not read", MaxBundles)}), nil
			}
			lo := o + " layer " + l.Digest
			b, err := fetchBlob(rep, l, opts)
			if isNotFound(err) {
				out = append(out, Candidate{Origin: lo, Err: fmt.Errorf("listed but not found: %w", err)})
				continue
			}
			var bad *badContent
			if errors.As(err, &bad) {
				out = append(out, Candidate{Origin: lo, Err: err})
				continue
			}
			if err != nil {
				return nil, unavailable(ctx, err)
			}
			out = append(out, Candidate{Origin: lo, Raw: b})
		}
	}
	return out, nil
}

// badContent is content a registry served that is not what was asked for.
type badContent struct{ msg string }

func (e *badContent) Error() string { return e.msg }

// checkContent checks that b is digest and at most max bytes.
func checkContent(b []byte, digest string, max int) error {
	if len(b) > max {
		return &badContent{fmt.Sprintf("%d bytes: more than %d", len(b), max)}
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return &badContent{fmt.Sprintf("content is %s, not %s", got, digest)}
	}
	return nil
}

// fetchBlob reads layer l of rep: at most its descriptor's size (itself at
// most MaxBundleSize, checked by ParseBundleLayers), and its digest
// checked.
func fetchBlob(rep name.Repository, l Descriptor, opts []remote.Option) ([]byte, error) {
	layer, err := remote.Layer(rep.Digest(l.Digest), opts...)
	if err != nil {
		return nil, err
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, l.Size+1))
	if err != nil {
		// go-containerregistry checks the digest as it reads.
		if strings.Contains(err.Error(), "error verifying") {
			return nil, &badContent{err.Error()}
		}
		return nil, err
	}
	if int64(len(b)) != l.Size {
		return nil, &badContent{fmt.Sprintf("%d bytes, the manifest says %d", len(b), l.Size)}
	}
	if err := checkContent(b, l.Digest, MaxBundleSize); err != nil {
		return nil, err
	}
	return b, nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// unavailable wraps a registry error in ErrUnavailable, naming the time
// budget when it was the cause.
func unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: no answer within the time budget: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Dir finds bundles in an operator's directory, for hosts that cannot reach
// the registry: the bundles of digest sha256:<hex> are the *.json files
// of DIR/sha256-<hex>/ (the referrers tag's name), each at most
// MaxBundleSize, at most MaxBundles of them in name order.
type Dir string

// Bundles returns the bundles of digest in the directory; none when it has
// no subdirectory for the digest.
func (d Dir) Bundles(digest string) ([]Candidate, error) {
	if d == "" {
		return nil, nil
	}
	if !IsDigest(digest) {
		return nil, fmt.Errorf("digest %q is not sha256:<hex>", digest)
	}
	sub := filepath.Join(string(d), strings.Replace(digest, ":", "-", 1))
	entries, err := os.ReadDir(sub)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bundle directory: %w", err)
	}
	var out []Candidate
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(sub, e.Name())
		if len(out) >= MaxBundles {
			return append(out, Candidate{Origin: "dir " + path, Err: fmt.Errorf("more than %d bundles: the rest are not read", MaxBundles)}), nil
		}
		if !e.Type().IsRegular() {
			out = append(out, Candidate{Origin: "dir " + path, Err: errors.New("not a regular file")})
			continue
		}
		b, err := readfile.Limited(path, MaxBundleSize)
		out = append(out, Candidate{Origin: "dir " + path, Raw: b, Err: err})
	}
	return out, nil
}

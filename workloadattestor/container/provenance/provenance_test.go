package provenance_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hwattest/hwattest/internal/provenancetest"
	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

const (
	ghIssuer  = "https://token.actions.githubusercontent.com"
	builderID = provenancetest.GitHubBuilderID
	buildType = provenancetest.GitHubBuildType
)

// world is a test Sigstore, its trusted root file, a registry with an
// image, and the image's digest.
type world struct {
	sig      *provenancetest.Sigstore
	rootPath string
	reg      *httptest.Server
	repo     name.Repository
	subject  v1.Descriptor
	digest   string
}

func newWorld(t *testing.T, referrersAPI bool) *world {
	t.Helper()
	w := &world{rootPath: filepath.Join(t.TempDir(), "trusted_root.json")}
	w.sig = provenancetest.Start(t, w.rootPath)
	w.reg = httptest.NewServer(registry.New(registry.WithReferrersSupport(referrersAPI), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(w.reg.Close)
	u, _ := url.Parse(w.reg.URL)
	var err error
	w.repo, err = name.NewRepository(u.Host + "/app")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if err := remote.Write(w.repo.Digest(d.String()), img); err != nil {
		t.Fatal(err)
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	w.subject, w.digest = *desc, d.String()
	return w
}

func (w *world) hex() string { return strings.TrimPrefix(w.digest, "sha256:") }

// attest signs an SLSA provenance statement for digest (hex) as id.
func (w *world) attest(t *testing.T, id provenancetest.Identity, digestHex string, o provenancetest.Options) []byte {
	t.Helper()
	return w.sig.AttestSLSA(t, id, digestHex, builderID, buildType, o)
}

func (w *world) attach(t *testing.T, bundle []byte) string {
	t.Helper()
	d, err := provenancetest.Attach(w.repo, w.subject, bundle, provenancetest.BundleMediaType)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ptr(i int) *int { return &i }

// policy is the policy "ci": the GitHub identity of org/app, SLSA
// provenance from the generator, trusted root w.rootPath.
func (w *world) policy(t *testing.T, edit func(*provenance.PolicyConfig)) []*provenance.Policy {
	t.Helper()
	c := provenance.PolicyConfig{
		TrustedRootPaths: []string{w.rootPath},
		Issuer:           ghIssuer,
		SAN:              provenancetest.GitHub("org/app").SAN,
		SourceRepository: "https://github.com/org/app",
		SourceRef:        "refs/heads/main",
		PredicateTypes:   []string{provenance.PredicateSLSAProvenanceV1},
		BuilderIDs:       []string{builderID},
		CTLogThreshold:   ptr(0), // the test Fulcio has no CT log
	}
	if edit != nil {
		edit(&c)
	}
	ps, err := provenance.CompilePolicies(map[string]provenance.PolicyConfig{"ci": c})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func (w *world) check(t *testing.T, ps []*provenance.Policy, dir provenance.Dir) *provenance.Result {
	t.Helper()
	c := provenance.NewChecker(ps, dir, provenance.NewRegistry(nil), 0, nil)
	r, _ := c.Check(context.Background(), w.repo.Name(), w.digest)
	return r
}

// TestGoodBundle: a bundle of the right signer for the digest satisfies
// the policy, with and without the registry's referrers API, and its
// verified facts are selectors.
func TestGoodBundle(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrersAPI=%v", api), func(t *testing.T) {
			w := newWorld(t, api)
			w.attach(t, w.attest(t, provenancetest.GitHub("org/app"), w.hex(), provenancetest.Options{}))
			r := w.check(t, w.policy(t, nil), "")
			if r.Unavailable != nil || len(r.Bundles) != 1 || r.Bundles[0].Err != nil {
				t.Fatalf("result %+v, bundles %+v", r, r.Bundles)
			}
			want := []string{
				"provenance:ci",
				"provenance_build_signer:https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
				"provenance_build_type:" + buildType,
				"provenance_builder_id:" + builderID,
				"provenance_issuer:" + ghIssuer,
				"provenance_predicate_type:https://slsa.dev/provenance/v1",
				"provenance_san:https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
				"provenance_source_digest:0123456789abcdef0123456789abcdef01234567",
				"provenance_source_ref:refs/heads/main",
				"provenance_source_repository:https://github.com/org/app",
			}
			if got := r.Selectors(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("selectors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestRefused: each bundle that must prove nothing, with the reason the
// result (and the plugin's log line) gives.
func TestRefused(t *testing.T) {
	w := newWorld(t, true)
	other, err := provenancetest.New()
	if err != nil {
		t.Fatal(err)
	}
	good := provenancetest.GitHub("org/app")
	otherRepo := good
	otherRepo.SourceRepository = "https://github.com/evil/app"
	otherID := provenancetest.GitHub("evil/app")
	otherBundle := other.AttestSLSA(t, good, w.hex(), builderID, buildType, provenancetest.Options{})
	sigOnly, err := w.sig.Attest(good, provenancetest.Statement(w.hex(), "https://sigstore.dev/cosign/sign/v1", map[string]any{}), provenancetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		bundle  []byte
		policy  string // the policy's reason ("" when the bundle fails whole)
		bundle_ string
	}{
		{"another identity", w.attest(t, otherID, w.hex(), provenancetest.Options{}),
			`identity: expected SAN value "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main", got "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main"`, ""},
		{"another source repository", w.attest(t, otherRepo, w.hex(), provenancetest.Options{}),
			`identity: expected SourceRepositoryURI to be "https://github.com/org/app", got "https://github.com/evil/app"`, ""},
		{"another digest", w.attest(t, good, strings.Repeat("ab", 32), provenancetest.Options{}),
			"", "not verified: trusted root ROOT: failed to verify signature: provided artifact digest does not match any digest in statement"},
		{"tampered", w.attest(t, good, w.hex(), provenancetest.Options{Tamper: true}),
			"", "not verified: trusted root ROOT: failed to verify log inclusion: transparency log dsse/intoto entry payload hash ..."},
		{"untrusted root", otherBundle, "", "not verified: trusted root ROOT: failed to verify log inclusion: ..."},
		{"expired certificate", w.attest(t, good, w.hex(), provenancetest.Options{CertNotBefore: time.Now().Add(-2 * time.Hour), NoTimestamp: true}),
			"", "not verified: trusted root ROOT: failed to verify log inclusion: integrated time outside certificate validity"},
		{"no log entry", w.attest(t, good, w.hex(), provenancetest.Options{NoTlog: true}),
			"", "not verified: trusted root ROOT: failed to verify log inclusion: ..."},
		{"another predicate", sigOnly,
			`predicate type "https://sigstore.dev/cosign/sign/v1": want one of ["https://slsa.dev/provenance/v1"]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := provenance.Verify(w.policy(t, nil), w.digest, []provenance.Candidate{{Origin: "test", Raw: tc.bundle}})[0]
			if tc.bundle_ != "" {
				want := strings.ReplaceAll(tc.bundle_, "ROOT", w.rootPath)
				if r.Err == nil || !matches(r.Err.Error(), want) {
					t.Fatalf("bundle error %v\nwant %s", r.Err, want)
				}
				if r.Satisfied() || r.Signer != nil {
					t.Fatalf("unverified bundle reports facts: %+v", r)
				}
				return
			}
			if r.Err != nil || len(r.Policies) != 1 {
				t.Fatalf("bundle %+v", r)
			}
			if got := fmt.Sprint(r.Policies[0].Err); got != tc.policy {
				t.Fatalf("policy error\n%s\nwant\n%s", got, tc.policy)
			}
		})
	}
}

// matches compares got with want, where a trailing "..." in want matches
// any rest.
func matches(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "..."); ok {
		return strings.HasPrefix(got, p)
	}
	return got == want
}

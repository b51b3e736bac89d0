package container_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/logbuf"
	"github.com/hwattest/hwattest/internal/pluginmetrics/metricstest"
	"github.com/hwattest/hwattest/internal/provenancetest"
	"github.com/hwattest/hwattest/workloadattestor/container"
)

// signedImage is an image in an in-process registry, with a trusted root
// and a bundle signed by the GitHub identity of org/app attached.
type signedImage struct {
	reg      *httptest.Server
	repo     name.Repository
	digest   string
	rootPath string
	sig      *provenancetest.Sigstore
}

func newSignedImage(t testing.TB, id provenancetest.Identity) *signedImage {
	t.Helper()
	si := &signedImage{rootPath: filepath.Join(t.TempDir(), "trusted_root.json")}
	si.sig = provenancetest.Start(t, si.rootPath)
	si.reg = httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(si.reg.Close)
	u, _ := url.Parse(si.reg.URL)
	si.repo, _ = name.NewRepository(u.Host + "/app")
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	si.digest = d.String()
	if err := remote.Write(si.repo.Digest(si.digest), img); err != nil {
		t.Fatal(err)
	}
	desc, _ := partial.Descriptor(img)
	b := si.sig.AttestSLSA(t, id, strings.TrimPrefix(si.digest, "sha256:"), "https://builder.example/v1", "https://build.example/type", provenancetest.Options{})
	if _, err := provenancetest.Attach(si.repo, *desc, b, provenancetest.BundleMediaType); err != nil {
		t.Fatal(err)
	}
	return si
}

func (si *signedImage) info() container.Info {
	return container.Info{Image: si.repo.Name() + ":v1", ImageID: imageID, ImageDigests: []string{si.digest},
		RepoDigests: []string{si.repo.Name() + "@" + si.digest}}
}

func (si *signedImage) config(extra string) string {
	return fmt.Sprintf(`runtime "containerd" {
  address = "/run/containerd/containerd.sock"
}
provenance "ci" {
  trusted_root_paths = [%q]
  issuer             = "https://token.actions.githubusercontent.com"
  san_regex          = "https://github.com/org/app/.+"
  source_repository  = "https://github.com/org/app"
  builder_ids        = ["https://builder.example/v1"]
  ct_log_threshold   = 0
}
%s`, si.rootPath, extra)
}

func withLog(e *env) *logbuf.Buffer {
	var buf logbuf.Buffer
	e.plugin.SetLogger(hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info, JSONFormat: true}))
	return &buf
}

func baseSelectors(id string, si *signedImage) []string {
	return []string{"container_id:" + id, "runtime:containerd", "image:" + si.repo.Name() + ":v1", "image_id:" + imageID, "image_digest:" + si.digest}
}

// TestProvenanceSelectors: a container of a signed image gets
// provenance:<policy> and the verified signer's selectors after its
// others; cached answers keep them.
func TestProvenanceSelectors(t *testing.T) {
	si := newSignedImage(t, provenancetest.GitHub("org/app"))
	e := newEnv(t)
	withLog(e)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	e.configure(t, si.config(""))
	pid := e.run(t, ctrd, idA, si.info(), containerdPodCgroup(idA))
	want := append(baseSelectors(idA, si), "pod_uid:"+podUID,
		"provenance:ci",
		"provenance_build_signer:https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
		"provenance_build_type:https://build.example/type",
		"provenance_builder_id:https://builder.example/v1",
		"provenance_issuer:https://token.actions.githubusercontent.com",
		"provenance_predicate_type:https://slsa.dev/provenance/v1",
		"provenance_san:https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
		"provenance_source_digest:0123456789abcdef0123456789abcdef01234567",
		"provenance_source_ref:refs/heads/main",
		"provenance_source_repository:https://github.com/org/app",
	)
	e.wantSelectors(t, pid, want...)
	si.reg.Close() // cached: the registry is not asked again
	e.wantSelectors(t, pid, want...)
}

// TestProvenanceOtherSigner: an image signed by another identity gets no
// provenance selector, and the log says why.
func TestProvenanceOtherSigner(t *testing.T) {
	si := newSignedImage(t, provenancetest.GitHub("evil/app"))
	e := newEnv(t)
	buf := withLog(e)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	e.configure(t, si.config(""))
	pid := e.run(t, ctrd, idA, si.info(), ctrCgroup(idA))
	e.wantSelectors(t, pid, baseSelectors(idA, si)...)
	want := `"@message":"Provenance policy not satisfied by bundle",` +
		`"container_id":"` + idA + `","digest":"` + si.digest + `",` +
		`"origin":"registry ` + si.repo.Name() + ` referrer sha256:`
	if !strings.Contains(buf.String(), `"@message":"Provenance policy not satisfied by bundle"`) ||
		!strings.Contains(buf.String(), `"reason":"identity: expected SAN value to match regex \"^(?:https://github.com/org/app/.+)$\", got \"https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main\""`) {
		t.Fatalf("log lacks the reason (%s...):\n%s", want, buf.String())
	}
}

// TestProvenanceUnavailable: with the registry down, a new container of
// the signed image gets its other selectors and
// provenance_status:unavailable, no provenance selector; the failure is
// retried after the failure TTL.
func TestProvenanceUnavailable(t *testing.T) {
	si := newSignedImage(t, provenancetest.GitHub("org/app"))
	e := newEnv(t)
	buf := withLog(e)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	e.configure(t, si.config(`provenance_timeout = "300ms"`))
	si.reg.Close()
	pid := e.run(t, ctrd, idA, si.info(), ctrCgroup(idA))
	e.wantSelectors(t, pid, append(baseSelectors(idA, si), "provenance_status:unavailable")...)
	if !strings.Contains(buf.String(), `"@message":"Provenance unavailable: registry not asked; no provenance selector from it"`) {
		t.Fatalf("log:\n%s", buf.String())
	}
}

// TestProvenanceBundleDir: offline, the bundle directory alone proves
// provenance.
func TestProvenanceBundleDir(t *testing.T) {
	si := newSignedImage(t, provenancetest.GitHub("org/app"))
	dir := t.TempDir()
	hex := strings.TrimPrefix(si.digest, "sha256:")
	b := si.sig.AttestSLSA(t, provenancetest.GitHub("org/app"), hex, "https://builder.example/v1", "https://build.example/type", provenancetest.Options{})
	if err := os.MkdirAll(filepath.Join(dir, "sha256-"+hex), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sha256-"+hex, "app.sigstore.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	si.reg.Close()
	e := newEnv(t)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	e.configure(t, si.config(fmt.Sprintf("provenance_bundle_dir = %q\nprovenance_offline = true", dir)))
	pid := e.run(t, ctrd, idA, si.info(), ctrCgroup(idA))
	got, err := e.attest(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(got, "\n"), "provenance:ci") || strings.Contains(strings.Join(got, "\n"), "unavailable") {
		t.Fatalf("selectors %q", got)
	}
}

// TestRuntimeGoneKeepsSelectors: a running container whose runtime stops
// answering keeps its cached selectors (provenance included) until the
// cache TTL; then the request fails.
func TestRuntimeGoneKeepsSelectors(t *testing.T) {
	si := newSignedImage(t, provenancetest.GitHub("org/app"))
	e := newEnv(t)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	e.configure(t, si.config(""))
	pid := e.run(t, ctrd, idA, si.info(), ctrCgroup(idA))
	first, err := e.attest(pid)
	if err != nil || !strings.Contains(strings.Join(first, ","), "provenance:ci") {
		t.Fatalf("selectors %q, %v", first, err)
	}
	ctrd.mu.Lock()
	ctrd.err = fmt.Errorf("connection refused")
	ctrd.mu.Unlock()
	e.clock.advance(container.DefaultCacheTTL - time.Second)
	e.wantSelectors(t, pid, first...)
	e.clock.advance(time.Second)
	if _, err := e.attest(pid); err == nil {
		t.Fatal("attested after the cache TTL with the runtime gone")
	}
}

// TestProvenanceConfig: provenance blocks and settings are validated with
// the rest, every problem at once.
func TestProvenanceConfig(t *testing.T) {
	e := newEnv(t)
	e.runtime("/run/containerd/containerd.sock")
	_, err := e.plugin.Configure(t.Context(), configRequest(`runtime "containerd" { address = "/run/containerd/containerd.sock" }
provenance "Bad Name" {
  trusted_root_paths = ["/nonexistent/trusted_root.json"]
  san                = "a@example.com"
  san_regex          = "x"
  tlog_threshold     = 0
  colour             = "blue"
}
provenance_bundle_dir = "relative"
provenance_offline    = true
provenance_timeout    = "-1s"`))
	want := []string{
		`unknown configuration key "provenance.Bad Name.colour"`,
		`provenance "Bad Name": trusted root: open /nonexistent/trusted_root.json: no such file or directory`,
		`provenance "Bad Name": name must be 1-63 lowercase letters, digits, '.', '_' or '-'`,
		`provenance "Bad Name": issuer is needed (the OIDC issuer of the signing certificate)`,
		`provenance "Bad Name": san and san_regex: set one`,
		`provenance "Bad Name": tlog_threshold and timestamp_threshold are both 0: a bundle needs a verified time (a log entry or a timestamp) to check its short-lived certificate`,
		`provenance_bundle_dir "relative": want an absolute path`,
		`provenance_timeout "-1s": must be positive`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	_, err = e.plugin.Configure(t.Context(), configRequest(`runtime "containerd" { address = "/run/containerd/containerd.sock" }
provenance { issuer = "x" }`))
	if err == nil || !strings.Contains(err.Error(), `provenance blocks take one name: provenance "<name>" { ... } (line 2)`) {
		t.Errorf("unnamed block: %v", err)
	}
	_, err = e.plugin.Configure(t.Context(), configRequest(`runtime "containerd" { address = "/run/containerd/containerd.sock" }
provenance_timeout = "1s"`))
	if err == nil || !strings.Contains(err.Error(), `provenance_* settings without a provenance "<name>" { ... } policy`) {
		t.Errorf("settings without a policy: %v", err)
	}
}

func configRequest(hcl string) *configv1.ConfigureRequest {
	return &configv1.ConfigureRequest{HclConfiguration: hcl}
}

// TestRepoDigests: the repositories of a Docker Engine API image's
// RepoDigests, normalized, for provenance lookups; malformed ones skipped.
func TestRepoDigests(t *testing.T) {
	body := `{"Id":"x","RepoDigests":["localhost:5000/wl@` + digest1 + `","docker.io/library/nginx@` + digest2 +
		`","nginx@` + digest2 + `","bad ref@` + digest1 + `","x@sha256:short"]}`
	got := container.RepoDigests([]byte(body))
	want := []string{"index.docker.io/library/nginx@" + digest2, "localhost:5000/wl@" + digest1}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("repository digests %q, want %q", got, want)
	}
}

// TestProvenanceMetrics: each provenance check that is not answered from the
// cache is counted by result, through SPIRE's metrics host service: a
// satisfied policy, and a registry that cannot be asked.
func TestProvenanceMetrics(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		closed     bool
	}{
		{"satisfied", "container.provenance result=satisfied", false},
		{"registry down", "container.provenance result=unavailable", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			si := newSignedImage(t, provenancetest.GitHub("org/app"))
			e := newEnv(t)
			ctrd := e.runtime("/run/containerd/containerd.sock")
			fm := &metricstest.Fake{}
			client := new(workloadattestorv1.WorkloadAttestorPluginClient)
			plugintest.ServeInBackground(t, plugintest.Config{
				PluginServer:       workloadattestorv1.WorkloadAttestorPluginServer(e.plugin),
				PluginClient:       client,
				HostServiceServers: []pluginsdk.ServiceServer{metricsv1.MetricsServiceServer(fm)},
			})
			e.configure(t, si.config(`provenance_timeout = "300ms"`))
			if tc.closed {
				si.reg.Close()
			}
			pid := e.run(t, ctrd, idA, si.info(), ctrCgroup(idA))
			if _, err := client.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pid)}); err != nil {
				t.Fatal(err)
			}
			got, _ := fm.Wait(3, 1)
			if !slices.Contains(got, tc.want) {
				t.Errorf("counters %v, want %q among them", got, tc.want)
			}
		})
	}
}

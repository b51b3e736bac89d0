package integration_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/internal/provenancetest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// The test Sigstore signs as this builder and these identities.
const (
	provBuilder = provenancetest.GitHubBuilderID
	provType    = provenancetest.GitHubBuildType
)

// provenanceWorld is a test Sigstore and its trusted root file.
type provenanceWorld struct {
	sig      *provenancetest.Sigstore
	rootPath string
}

func newProvenanceWorld(t *testing.T) *provenanceWorld {
	t.Helper()
	w := &provenanceWorld{rootPath: filepath.Join(harness.Dir(t), "trusted_root.json")}
	w.sig = provenancetest.Start(t, w.rootPath)
	return w
}

// bundle returns an SLSA provenance bundle of img signed by id.
func (w *provenanceWorld) bundle(t *testing.T, img containertest.Image, id provenancetest.Identity) []byte {
	t.Helper()
	return w.sig.AttestSLSA(t, id, strings.TrimPrefix(img.Digest, "sha256:"), provBuilder, provType, provenancetest.Options{})
}

// attach attaches a bundle of img signed by id to img in the registry
// (the registry has no referrers API: go-containerregistry writes the
// sha256-<hex> referrers tag).
func (w *provenanceWorld) attach(t *testing.T, reg *containertest.Registry, repo string, img containertest.Image, id provenancetest.Identity) {
	t.Helper()
	r, err := name.NewRepository(reg.Host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := partial.Descriptor(img.Image)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provenancetest.Attach(r, *desc, w.bundle(t, img, id), provenancetest.BundleMediaType,
		remote.WithTransport(http.DefaultTransport)); err != nil {
		t.Fatal(err)
	}
}

// policy is the container plugin's provenance part: policy "ci" trusts
// the GitHub workflow identity of org/app and the SLSA generator.
func (w *provenanceWorld) policy(extra string) string {
	return fmt.Sprintf(`    provenance "ci" {
      trusted_root_paths = [%q]
      issuer             = "https://token.actions.githubusercontent.com"
      san_regex          = "https://github.com/org/app/\\.github/workflows/.+"
      source_repository  = "https://github.com/org/app"
      builder_ids        = [%q]
      ct_log_threshold   = 0
    }
    provenance_timeout     = "1s"
    provenance_cache_ttl   = "2s"
    provenance_failure_ttl = "1s"
%s`, w.rootPath, provBuilder, extra)
}

// provenanceSelectors returns the provenance part of container selectors.
func provenanceSelectors(sel []string) []string {
	var out []string
	for _, s := range sel {
		if strings.HasPrefix(s, "provenance") {
			out = append(out, s)
		}
	}
	return out
}

var wantSignedSelectors = []string{
	"provenance:ci",
	"provenance_build_signer:https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
	"provenance_build_type:" + provType,
	"provenance_builder_id:" + provBuilder,
	"provenance_issuer:https://token.actions.githubusercontent.com",
	"provenance_predicate_type:https://slsa.dev/provenance/v1",
	"provenance_san:https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
	"provenance_source_digest:0123456789abcdef0123456789abcdef01234567",
	"provenance_source_ref:refs/heads/main",
	"provenance_source_repository:https://github.com/org/app",
}

// TestProvenanceContainerd: through a real SPIRE agent and a private
// containerd, a container of an image signed by the trusted CI identity
// gets an SVID from an entry requiring container:provenance:ci; an
// unsigned image and one signed by another identity get none. With the
// registry stopped, a new container of the signed image gets
// provenance_status:unavailable and no SVID from that entry, while an
// entry on its digest alone still works. An image whose registry is gone
// is proven by the bundle directory.
func TestProvenanceContainerd(t *testing.T) {
	harness.SPIRE(t)
	ctrd := containertest.StartContainerd(t)
	reg := containertest.StartRegistry(t)
	w := newProvenanceWorld(t)
	signed, unsigned, evil := workloadImage(t, "signed"), workloadImage(t, "unsigned"), workloadImage(t, "evil")
	refs := map[string]string{}
	for n, img := range map[string]containertest.Image{"signed": signed, "unsigned": unsigned, "evil": evil} {
		refs[n] = reg.Push(t, img, "wl:"+n)
	}
	w.attach(t, reg, "wl", signed, provenancetest.GitHub("org/app"))
	w.attach(t, reg, "wl", evil, provenancetest.GitHub("evil/app"))

	// The air-gapped image: its own registry, stopped after the pull; its
	// bundle in the bundle directory.
	reg2 := containertest.StartRegistry(t)
	airgapped := workloadImage(t, "airgapped")
	refs["airgapped"] = reg2.Push(t, airgapped, "wl:airgapped")
	bundleDir := harness.Dir(t)
	sub := filepath.Join(bundleDir, "sha256-"+strings.TrimPrefix(airgapped.Digest, "sha256:"))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "provenance.sigstore.json"), w.bundle(t, airgapped, provenancetest.GitHub("org/app")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		ctrd.Pull(t, "k8s.io", ref)
	}
	reg2.Stop()

	s := startWorkloadSetup(t, fmt.Sprintf("runtime \"containerd\" {\n  address = %q\n}\n%s", ctrd.Socket,
		w.policy(fmt.Sprintf("    provenance_bundle_dir = %q", bundleDir))))
	provWorkload := "spiffe://" + harness.TrustDomain + "/provenance-workload"
	s.register(t, provWorkload, "container:provenance:ci")

	run := func(ref string) (out string, pid int) {
		out = harness.Dir(t)
		id := randomHex(t)
		pid = ctrd.Run(t, containertest.RunOptions{
			Namespace: "k8s.io", Image: ref, ID: id, Cgroup: "/hwattest-prov/" + id,
			Binds: map[string]string{s.publicDir(): "/spire", out: "/out"},
		})
		return out, pid
	}

	out, pid := run(refs["signed"])
	waitSVID(t, out, provWorkload)
	if got := provenanceSelectors(s.waitSelectors(t, pid, "container")); !slices.Equal(got, wantSignedSelectors) {
		t.Errorf("signed image: provenance selectors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSignedSelectors, "\n"))
	}
	t.Logf("signed image %s: SVID from the entry requiring container:provenance:ci", signed.Digest)

	for _, n := range []string{"unsigned", "evil"} {
		o, p := run(refs[n])
		waitRefused(t, o)
		if got := provenanceSelectors(s.waitSelectors(t, p, "container")); len(got) != 0 {
			t.Errorf("%s image: provenance selectors %q", n, got)
		}
		t.Logf("%s image: no SVID", n)
	}
	want := `"Provenance policy not satisfied by bundle"`
	if !strings.Contains(s.agent.LogText(), "Provenance policy not satisfied by bundle") ||
		!strings.Contains(s.agent.LogText(), `identity: expected SAN value to match regex`) {
		t.Errorf("the agent did not log %s with the reason", want)
	}

	o, p := run(refs["airgapped"])
	waitSVID(t, o, provWorkload)
	got := provenanceSelectors(s.waitSelectors(t, p, "container"))
	if !slices.Contains(got, "provenance:ci") || !slices.Contains(got, "provenance_status:unavailable") {
		t.Errorf("air-gapped image: provenance selectors %q, want provenance:ci from the bundle directory and provenance_status:unavailable", got)
	}
	t.Logf("image whose registry is gone, bundle in the bundle directory: SVID (selectors %q)", got)

	// hwattest provenance gives the same verdict from the command line.
	repo := refs["signed"][:strings.LastIndexByte(refs["signed"], ':')]
	t.Logf("hwattest provenance, signed image:\n%s", runProvenanceCLI(t, w, repo+"@"+signed.Digest, 0))
	t.Logf("hwattest provenance, image signed by another identity:\n%s", runProvenanceCLI(t, w, repo+"@"+evil.Digest, 1))

	// The registry stops: a new container of the signed image is not
	// proven (fail closed) but its digest still identifies it.
	reg.Stop()
	digestWorkload := "spiffe://" + harness.TrustDomain + "/digest-workload"
	s.register(t, digestWorkload, "container:image_digest:"+signed.Digest)
	downOut, downPID := run(refs["signed"])
	waitSVID(t, downOut, digestWorkload)
	got = provenanceSelectors(s.waitSelectors(t, downPID, "container"))
	if !slices.Equal(got, []string{"provenance_status:unavailable"}) {
		t.Errorf("registry stopped: provenance selectors %q, want only provenance_status:unavailable", got)
	}
	if !strings.Contains(s.agent.LogText(), "Provenance unavailable: registry not asked; no provenance selector from it") {
		t.Error("the agent did not log the unavailable registry")
	}
	t.Logf("registry stopped: a new container of the signed image gets only %s", digestWorkload)
}

// runProvenanceCLI runs hwattest provenance with policy "ci" on image
// (repo@digest) and returns its output; it must exit with code.
func runProvenanceCLI(t *testing.T, w *provenanceWorld, image string, code int, args ...string) string {
	t.Helper()
	policy := filepath.Join(harness.Dir(t), "provenance.hcl")
	text := strings.ReplaceAll(w.policy(""), "    provenance_", "    # provenance_") // plugin-only settings
	if err := os.WriteFile(policy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(harness.Plugins(t)["hwattest"].Path, append(append([]string{"provenance", "--policy", policy}, args...), image)...)
	out, err := cmd.CombinedOutput()
	if got := cmd.ProcessState.ExitCode(); got != code {
		t.Fatalf("hwattest provenance %s: exit %d (%v), want %d:\n%s", image, got, err, code, out)
	}
	return string(out)
}

// TestProvenancePodman: the same through podman's Docker-compatible API:
// a container of the signed image gets the SVID, one of an image signed by
// another identity does not.
func TestProvenancePodman(t *testing.T) {
	harness.SPIRE(t)
	pm := containertest.StartPodman(t)
	service := pm.Service(t)
	reg := containertest.StartRegistry(t)
	w := newProvenanceWorld(t)
	signed, evil := workloadImage(t, "signed"), workloadImage(t, "evil")
	signedRef, evilRef := reg.Push(t, signed, "wl:signed"), reg.Push(t, evil, "wl:evil")
	w.attach(t, reg, "wl", signed, provenancetest.GitHub("org/app"))
	w.attach(t, reg, "wl", evil, provenancetest.GitHub("evil/app"))
	pm.Pull(t, signedRef)
	pm.Pull(t, evilRef)
	s := startWorkloadSetup(t, fmt.Sprintf("runtime \"podman\" {\n  type    = \"docker\"\n  address = %q\n}\n%s", "unix://"+service.Socket, w.policy("")))
	provWorkload := "spiffe://" + harness.TrustDomain + "/provenance-workload"
	s.register(t, provWorkload, "container:provenance:ci")

	out := harness.Dir(t)
	_, pid := pm.Run(t, signedRef, map[string]string{s.publicDir(): "/spire", out: "/out"})
	waitSVID(t, out, provWorkload)
	if got := provenanceSelectors(s.waitSelectors(t, pid, "container")); !slices.Equal(got, wantSignedSelectors) {
		t.Errorf("signed image: provenance selectors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSignedSelectors, "\n"))
	}
	t.Logf("podman, signed image %s: SVID", signed.Digest)

	evilOut := harness.Dir(t)
	_, evilPID := pm.Run(t, evilRef, map[string]string{s.publicDir(): "/spire", evilOut: "/out"})
	waitRefused(t, evilOut)
	if got := provenanceSelectors(s.waitSelectors(t, evilPID, "container")); len(got) != 0 {
		t.Errorf("evil image: provenance selectors %q", got)
	}
	t.Log("podman, image signed by another identity: no SVID")
}

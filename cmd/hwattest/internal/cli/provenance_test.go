package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/internal/provenancetest"
)

// TestProvenance: hwattest provenance finds the bundle of a signed image
// in a registry, says which policy it satisfies and why the other fails,
// and exits 0 only when every policy is satisfied.
func TestProvenance(t *testing.T) {
	dir := t.TempDir()
	rootPath := filepath.Join(dir, "trusted_root.json")
	s := provenancetest.Start(t, rootPath)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	u, _ := url.Parse(reg.URL)
	repo, _ := name.NewRepository(u.Host + "/app")
	img, _ := random.Image(256, 1)
	d, _ := img.Digest()
	if err := remote.Write(repo.Digest(d.String()), img); err != nil {
		t.Fatal(err)
	}
	desc, _ := partial.Descriptor(img)
	b := s.AttestSLSA(t, provenancetest.GitHub("org/app"), d.Hex, "https://builder.example/v1", "https://build.example/type", provenancetest.Options{})
	if _, err := provenancetest.Attach(repo, *desc, b, provenancetest.BundleMediaType); err != nil {
		t.Fatal(err)
	}
	policy := func(extra string) string {
		path := filepath.Join(t.TempDir(), "policy.hcl")
		text := fmt.Sprintf(`provenance "ci" {
  trusted_root_paths = [%q]
  issuer             = "https://token.actions.githubusercontent.com"
  san_regex          = "https://github.com/org/app/.+"
  builder_ids        = ["https://builder.example/v1"]
  ct_log_threshold   = 0
}
%s`, rootPath, extra)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	image := repo.Name() + "@" + d.String()
	r := mustRun(t, cli.ExitOK, "provenance", "--policy", policy(""), image)
	for _, want := range []string{"policy ci: pass", "satisfied: ci", "container:provenance:ci", "container:provenance_builder_id:https://builder.example/v1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustRun(t, cli.ExitFailed, "provenance", "--policy", policy(fmt.Sprintf(`provenance "release" {
  trusted_root_paths = [%q]
  issuer             = "https://token.actions.githubusercontent.com"
  san                = "release@example.com"
  ct_log_threshold   = 0
}`, rootPath)), image)
	want := `policy release: fail: identity: expected SAN value "release@example.com", got "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"`
	if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "not satisfied: release") {
		t.Errorf("output lacks %q:\n%s", want, r.stdout)
	}
	r = mustRun(t, cli.ExitOK, "provenance", "--json", "--policy", policy(""), image)
	var rep struct {
		Digest  string `json:"digest"`
		Bundles []struct {
			Verified bool `json:"verified"`
			Policies []struct {
				Policy string `json:"policy"`
				Passed bool   `json:"passed"`
			} `json:"policies"`
		} `json:"bundles"`
		Satisfied []string `json:"satisfied"`
		Passed    bool     `json:"passed"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if rep.Digest != d.String() || !rep.Passed || len(rep.Bundles) != 1 || !rep.Bundles[0].Verified ||
		len(rep.Bundles[0].Policies) != 1 || !rep.Bundles[0].Policies[0].Passed || strings.Join(rep.Satisfied, ",") != "ci" {
		t.Errorf("--json report %+v", rep)
	}
	mustRun(t, cli.ExitUsage, "provenance", "--policy", policy(""), repo.Name()+":latest")
}

package repocheck

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/printer"

	"github.com/hwattest/hwattest/credentialcomposer/attestation"
	"github.com/hwattest/hwattest/internal/hclconf"
	sevsnpagent "github.com/hwattest/hwattest/nodeattestor/sevsnp/agent"
	sevsnpserver "github.com/hwattest/hwattest/nodeattestor/sevsnp/server"
	tdxagent "github.com/hwattest/hwattest/nodeattestor/tdx/agent"
	tdxserver "github.com/hwattest/hwattest/nodeattestor/tdx/server"
	"github.com/hwattest/hwattest/nodeattestor/tpm/agent"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/workloadattestor/container"
	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
	"github.com/hwattest/hwattest/workloadattestor/exe"
)

// configFor maps a plugin binary (plugin_cmd's base name) to a new value of
// its configuration type.
var configFor = map[string]func() any{
	"nodeattestor-tpm-server":        func() any { return new(server.Config) },
	"nodeattestor-tpm-agent":         func() any { return new(agent.Config) },
	"workloadattestor-exe":           func() any { return new(exe.Config) },
	"workloadattestor-container":     func() any { return new(container.Config) },
	"credentialcomposer-attestation": func() any { return new(attestation.Config) },
	"nodeattestor-sevsnp-server":     func() any { return new(sevsnpserver.Config) },
	"nodeattestor-sevsnp-agent":      func() any { return new(sevsnpagent.Config) },
	"nodeattestor-tdx-server":        func() any { return new(tdxserver.Config) },
	"nodeattestor-tdx-agent":         func() any { return new(tdxagent.Config) },
}

var (
	hclBlock = regexp.MustCompile("(?s)```hcl\n(.*?)```")
	excerpt  = regexp.MustCompile(`(?m)^\s*\.\.\.\s*$`)
)

// TestDocsHCL: every HCL sample in docs/ uses only keys the plugins know.
// A plugin stanza's plugin_data is decoded as the plugin decodes it (SPIRE
// hands it over printed back to text); a plugin_data_file sample (a block
// starting "# /etc/spire/tpm-server.hcl", or "# tpm.hcl" as the Kubernetes
// ConfigMap key names it) as the server plugin's; policy
// blocks as policy files. Values are not checked: paths and hashes in docs
// are placeholders. Excerpts, marked by a "..." line, are skipped.
func TestDocsHCL(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("docs: %v", err)
	}
	checked := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range hclBlock.FindAllSubmatch(b, -1) {
			text := string(m[1])
			name := filepath.Base(page) + " hcl block " + strconv.Itoa(i+1)
			if excerpt.MatchString(text) {
				continue
			}
			if err := checkSample(text); err != nil {
				t.Errorf("%s: %v\n%s", name, err, text)
			}
			checked++
		}
	}
	if checked < 6 {
		t.Errorf("checked %d HCL samples; did the docs move?", checked)
	}
}

func checkSample(text string) error {
	if strings.HasPrefix(text, "# /etc/spire/tpm-server.hcl") || strings.HasPrefix(text, "# tpm.hcl") {
		return joined(hclconf.Decode(text, new(server.Config)))
	}
	file, err := hcl.Parse(text)
	if err != nil {
		return err
	}
	list := file.Node.(*ast.ObjectList)
	if len(list.Items) > 0 && len(list.Filter("policy").Items) == len(list.Items) {
		_, err := policy.Parse(text)
		return err
	}
	if len(list.Items) > 0 && len(list.Filter("provenance").Items) == len(list.Items) {
		// A policy file of hwattest provenance: the container plugin's
		// provenance blocks.
		var f struct {
			Provenance map[string]provenance.PolicyConfig `hcl:"provenance"`
		}
		return joined(hclconf.Decode(text, &f))
	}
	stanzas := 0
	for _, kind := range []string{"NodeAttestor", "WorkloadAttestor", "CredentialComposer"} {
		for _, item := range list.Filter(kind).Items {
			stanzas++
			body, ok := item.Val.(*ast.ObjectType)
			if !ok {
				return errors.New(kind + " is not a block")
			}
			var cmd string
			for _, kv := range body.List.Filter("plugin_cmd").Items {
				if lit, ok := kv.Val.(*ast.LiteralType); ok {
					cmd = strings.Trim(lit.Token.Text, `"`)
				}
			}
			data := body.List.Filter("plugin_data").Items
			if len(data) == 0 {
				continue // plugin_data_file, or no configuration
			}
			newConfig, ok := configFor[filepath.Base(cmd)]
			if !ok {
				return errors.New("plugin_cmd " + cmd + " is none of ours")
			}
			var buf bytes.Buffer
			if err := printer.Fprint(&buf, data[0].Val.(*ast.ObjectType).List); err != nil {
				return err
			}
			if err := joined(hclconf.Decode(buf.String(), newConfig())); err != nil {
				return err
			}
		}
	}
	if stanzas == 0 {
		return errors.New("neither plugin stanzas, policy blocks nor a plugin_data_file sample")
	}
	return nil
}

func joined(errs []error) error { return errors.Join(errs...) }

# TEST-ONLY: the container plugin's plugin_data in the cluster tests. The
# trusted root and the bundles come from the test's own Sigstore
# (internal/provenancetest: VirtualSigstore, test keys), written to the
# directory mounted at /run/hwattest/provenance.
runtime "containerd" {
  address = "/run/containerd/containerd.sock"
}

provenance "ci" {
  trusted_root_paths = ["/run/hwattest/provenance/trusted_root.json"]
  issuer             = "https://token.actions.githubusercontent.com"
  san_regex          = "https://github.com/org/app/\\.github/workflows/.+"
  source_repository  = "https://github.com/org/app"
  ct_log_threshold   = 0
}
provenance_bundle_dir = "/run/hwattest/provenance/bundles"
provenance_offline    = true

# TEST-ONLY: the tpm plugin's plugin_data in the cluster tests. swtpm's EK CA
# comes in the hwattest-ek-cas ConfigMap; the boot log is a real machine's,
# replayed into swtpm by the test.
bundled_ek_cas = true
ek_ca_paths    = ["/run/hwattest/ek-ca"]
require        = "certificate"
pcrs           = { sha256 = [0, 1, 2, 3, 4, 5, 6, 7] }

policy "genuine" {
  ek_certificate = true
}
policy "secureboot" {
  secure_boot = true
}

# Node events to hwattest isolate, beside the server in its pod.
event_webhook "isolate" {
  url = "http://127.0.0.1:8787/events"
}

package tdx_test

import (
	"testing"

	"github.com/hwattest/hwattest/nodeattestor/tdx"
)

// FuzzDecode: the agent's messages (JSON with size limits, unknown fields
// and trailing data refused) and the agent key parser on arbitrary bytes.
// Seeds: below and testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"key":"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"}`))
	f.Add([]byte(`{"quote":"AAAA","signature":"AAAA"}`))
	f.Add([]byte(`{"version":1}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h tdx.Hello
		if err := tdx.Decode(b, tdx.MaxHelloSize, &h); err == nil {
			_, _ = tdx.ParseKey(h.Key)
		}
		var r tdx.Response
		_ = tdx.Decode(b, tdx.MaxResponseSize, &r)
	})
}

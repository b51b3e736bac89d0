package isolate_test

import (
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/isolate"
	"github.com/hwattest/hwattest/internal/nodeevents"
)

// FuzzParseEvent: any body the webhook receives is refused or parsed
// without a panic, and a parsed event is a valid node event.
func FuzzParseEvent(f *testing.F) {
	e, _ := nodeevents.New(nodeevents.TypeDrift, nodeevents.Node{AgentID: "spiffe://example.org/spire/agent/tpm/ab", Attestor: "tpm", Lost: []string{"level3"}}, time.Unix(1796627722, 0))
	b, _ := e.MarshalJSON()
	f.Add(b)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"x","type":"io.hwattest.node.refused.v1","data_base64":"AA=="}`))
	f.Add([]byte(`{"specversion":"0.3"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := isolate.ParseEvent(body)
		if err != nil {
			return
		}
		if e.Validate() != nil || len(e.Type()) < len("io.hwattest.node.") {
			t.Fatalf("accepted %q", body)
		}
	})
}

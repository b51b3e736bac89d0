// Package isolate is the logic of `hwattest isolate`, a Kubernetes
// controller that takes a node out of service when its SPIRE agent stops
// proving its state, and puts it back when it proves it again.
//
// A node is managed when it carries the annotation hwattest.io/agent-id
// (its agent's SPIFFE ID, which `hwattest ek` prints). The controller reads
// SPIRE's agents through the server API and, between two reads, the node
// events the server attestors post (internal/nodeevents). A managed node is
// failed when its agent is not in SPIRE's list (never attested, evicted),
// is banned, has an expired SVID (it stopped re-attesting), lacks a required
// policy, or was refused (or drifted) since it last attested. A failed node
// gets a taint (hwattest.io/attestation=failed:NoExecute by default), so its
// pods are evicted and no new pod lands there; a healthy node loses it.
//
// It fails safe, not closed: when SPIRE's API cannot be read nothing
// changes (tainting every node because the server is down would take the
// cluster down with it), and it never taints more than a bound of the
// managed nodes at once. Report-only mode (the default) and dry-run only
// say what they would do.
package isolate

// Package isolate is the logic of `hwattest isolate`, a Kubernetes
// controller that takes a node out of service when its SPIRE agent stops
// proving its state, and puts it back when it proves it again.
//
// A node is managed when the bindings (NewBindings: a ConfigMap the
// cluster's administrators write) bind its name to its agent's SPIFFE ID,
// which `hwattest ek` prints. Not an annotation on the Node: its kubelet
// may edit those, and a node that can name its agent can name none and
// escape. The controller reads
// SPIRE's agents through the server API and, between two reads, the node
// events the server attestors post (internal/nodeevents). A managed node is
// failed when its agent is not in SPIRE's list (never attested, evicted),
// is banned, has an expired SVID (it stopped re-attesting), lacks a required
// policy, or was refused (or drifted) since it last attested. A failed node
// gets a taint (hwattest.io/attestation=failed:NoExecute by default), so its
// pods are evicted and no new pod lands there; a healthy node loses it.
//
// A refusal holds until the agent attests again: until SPIRE lists it with
// another SVID (every successful attestation issues one) or an attested
// event with every required policy comes. The refusals it acted on are kept
// as marks in a ConfigMap of its own (NewMarks), so that a restarted
// controller, or one beside another SPIRE server that never saw the event,
// keeps the node isolated; not on the Node, whose kubelet may edit its own
// annotations.
//
// It fails safe, not closed: when SPIRE's API cannot be read nothing
// changes (tainting every node because the server is down would take the
// cluster down with it), and it never taints more than a bound of the
// managed nodes at once. Report-only mode (the default) and dry-run only
// say what they would do.
package isolate

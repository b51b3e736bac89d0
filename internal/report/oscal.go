package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	oscal "github.com/defenseunicorns/go-oscal/src/types/oscal-1-1-2"
)

// OSCALVersion is the OSCAL version of the assessment results.
const OSCALVersion = oscal.Version

// OSCALOptions are the choices of the OSCAL output.
type OSCALOptions struct {
	// ImportAP is the href of the assessment plan the results answer
	// (import-ap). Empty: the results point at a back-matter resource
	// that says hwattest has no separate plan (the plan is the level
	// policies themselves, run on every attestation) and cites the levels
	// catalog. GRC pipelines that keep an assessment plan (FedRAMP's) pass
	// its URI here.
	ImportAP string
}

// OSCAL builds the report as an OSCAL 1.1.2 assessment-results document:
// one result whose local definitions hold each node as a component, one
// observation per node (its last verification, method TEST) and one finding
// per node and level (satisfied or not-satisfied), targeting the statement
// of the level's control in the hwattest levels catalog.
//
// go-oscal's types allow placements the schema refuses (components in the
// document's local-definitions): this puts them in the result's, and the
// tests validate the output against the schema.
func (r *Report) OSCAL(opts OSCALOptions) *oscal.OscalModels {
	at := r.GeneratedAt.UTC()
	stamp := at.Format(time.RFC3339Nano)
	planID := nameUUID("oscal-ap", stamp)
	catalogID := nameUUID("oscal-catalog")
	importAP := opts.ImportAP
	if importAP == "" {
		importAP = "#" + planID
	}

	var (
		components   []oscal.SystemComponent
		observations []oscal.Observation
		findings     []oscal.Finding
		controls     []oscal.AssessedControlsSelectControlById
	)
	for _, level := range r.Levels {
		if c, ok := controlFor(level); ok {
			controls = append(controls, oscal.AssessedControlsSelectControlById{ControlId: c.ID})
		}
	}
	for _, n := range r.Nodes {
		compID := nameUUID("oscal-component", n.SPIFFEID)
		components = append(components, oscalComponent(n, compID))
		obsID := nameUUID("oscal-observation", stamp, n.SPIFFEID)
		observations = append(observations, oscalObservation(n, obsID, compID, at))
		for _, level := range r.Levels {
			findings = append(findings, oscalFinding(n, level, nameUUID("oscal-finding", stamp, n.SPIFFEID, level), obsID))
		}
	}
	selection := oscal.AssessedControls{Description: "The controls of the hwattest levels catalog that the report's levels implement."}
	if len(controls) > 0 {
		selection.IncludeControls = &controls
	} else {
		selection.IncludeAll = &map[string]interface{}{}
	}
	result := oscal.Result{
		UUID:  nameUUID("oscal-result", stamp),
		Title: "hwattest node attestation levels",
		Description: "Which SPIRE agent (node) meets which hwattest attestation level, from the SPIRE server's record of each agent's " +
			"last attestation: its tpm:policy:<name> selectors. Levels, lowest first: " + strings.Join(r.Levels, ", ") + ".",
		Start:            at,
		End:              &at,
		ReviewedControls: oscal.ReviewedControls{ControlSelections: []oscal.AssessedControls{selection}},
		LocalDefinitions: &oscal.LocalDefinitions{},
	}
	if len(components) > 0 {
		result.LocalDefinitions.Components = &components
		result.Observations = &observations
	} else {
		result.LocalDefinitions = nil
	}
	if len(findings) > 0 {
		result.Findings = &findings
	}
	resources := []oscal.Resource{
		{UUID: planID, Title: "hwattest assessment plan",
			Description: "hwattest keeps no separate assessment plan: the plan is the level policies themselves, which the tpm node attestor " +
				"evaluates on every node attestation, and the reviewed controls are those of the hwattest levels catalog. " +
				"Pass hwattest report --import-ap HREF to point at an assessment plan kept elsewhere.",
			Rlinks: &[]oscal.ResourceLink{{Href: CatalogPath, MediaType: "application/oscal.catalog+json"}}},
		{UUID: catalogID, Title: "hwattest attestation levels catalog",
			Rlinks: &[]oscal.ResourceLink{{Href: CatalogPath, MediaType: "application/oscal.catalog+json"}}},
	}
	return &oscal.OscalModels{AssessmentResults: &oscal.AssessmentResults{
		UUID: nameUUID("oscal-assessment-results", stamp),
		Metadata: oscal.Metadata{
			Title:        "hwattest attestation assessment results",
			LastModified: at,
			Version:      stamp,
			OscalVersion: OSCALVersion,
			Links:        &[]oscal.Link{{Href: "#" + catalogID, Rel: "reference", Text: "hwattest attestation levels catalog"}},
		},
		ImportAp:   oscal.ImportAp{Href: importAP},
		Results:    []oscal.Result{result},
		BackMatter: &oscal.BackMatter{Resources: &resources},
	}}
}

func oscalProp(name, value string) oscal.Property {
	return oscal.Property{Name: name, Ns: CatalogNS, Value: value}
}

// oscalProps are the node's non-empty properties.
func oscalProps(n Node) *[]oscal.Property {
	var props []oscal.Property
	for _, kv := range [][2]string{
		{"agent-id", n.SPIFFEID}, {"attestation-type", n.AttestationType}, {"ek-hash", n.EKHash},
		{"manufacturer", n.Manufacturer}, {"secure-boot", n.SecureBoot}, {"node-status", n.Status},
		{"svid-expires-at", timeString(n.SVIDExpiresAt)},
	} {
		if kv[1] != "" {
			props = append(props, oscalProp(kv[0], kv[1]))
		}
	}
	for _, l := range n.Levels {
		props = append(props, oscalProp("level", l))
	}
	return &props
}

func oscalComponent(n Node, id string) oscal.SystemComponent {
	state, remarks := "operational", ""
	switch n.Status {
	case StatusBanned:
		state, remarks = "disposition", "The SPIRE agent is banned."
	case StatusExpired:
		state, remarks = "other", "The SPIRE agent's SVID has expired: it has no identity now."
	}
	desc := fmt.Sprintf("SPIRE agent %s, attested by %s", n.SPIFFEID, orDash(n.AttestationType))
	if n.EKHash != "" {
		desc += fmt.Sprintf(", TPM EK public key SHA-256 %s", n.EKHash)
	}
	if n.Manufacturer != "" {
		desc += ", TPM manufacturer " + n.Manufacturer
	}
	return oscal.SystemComponent{
		UUID: id, Type: "hardware", Title: n.SPIFFEID, Description: desc + ".",
		Props:  oscalProps(n),
		Status: oscal.SystemComponentStatus{State: state, Remarks: remarks},
	}
}

func oscalObservation(n Node, id, component string, at time.Time) oscal.Observation {
	summary := fmt.Sprintf("Node attestation of %s: attestation type %s, secure boot %s, levels met: %s, node status %s.",
		n.SPIFFEID, orDash(n.AttestationType), n.SecureBoot, orDash(strings.Join(n.Levels, ", ")), n.Status)
	evidence := "The SPIRE server's agent record: selectors " + orDash(strings.Join(n.Selectors, " "))
	if n.SVIDSerial != "" {
		evidence += "; agent SVID serial " + n.SVIDSerial
	}
	return oscal.Observation{
		UUID: id, Title: "Node attestation of " + n.SPIFFEID, Description: summary,
		Methods:          []string{"TEST"},
		Collected:        at,
		Expires:          n.SVIDExpiresAt,
		Subjects:         &[]oscal.SubjectReference{{SubjectUuid: component, Type: "component", Title: n.SPIFFEID}},
		Props:            oscalProps(n),
		RelevantEvidence: &[]oscal.RelevantEvidence{{Description: evidence + "."}},
		Remarks: "SPIRE records no attestation time: collected is when the report read the server's record of the agent's last " +
			"attestation; expires is when the agent's SVID expires (it attests again, or renews, before).",
	}
}

func oscalFinding(n Node, level, id, observation string) oscal.Finding {
	statusID, detail := ocsfStatus(n, level)
	status := oscal.ObjectiveStatus{State: "satisfied", Reason: "pass", Remarks: detail}
	switch statusID {
	case ocsfFail:
		status = oscal.ObjectiveStatus{State: "not-satisfied", Reason: "fail", Remarks: detail}
	case ocsfWarning:
		status = oscal.ObjectiveStatus{State: "not-satisfied", Reason: "other", Remarks: detail}
	}
	target := oscal.FindingTarget{Type: "objective-id", TargetId: token("hwattest-policy-" + level), Status: status,
		Title: "Policy " + level + " (not in the hwattest levels catalog)",
		Props: &[]oscal.Property{oscalProp("policy-name", level)}}
	if c, ok := controlFor(level); ok {
		target.Type, target.TargetId, target.Title = "statement-id", c.Statement, c.ID+" "+c.Title
		target.Props = &[]oscal.Property{oscalProp("policy-name", level), oscalProp("control-id", c.ID)}
	}
	return oscal.Finding{
		UUID: id, Title: fmt.Sprintf("%s: %s", n.SPIFFEID, level),
		Description:         fmt.Sprintf("Whether node %s meets attestation level %s: %s.", n.SPIFFEID, level, detail),
		Target:              target,
		Props:               &[]oscal.Property{oscalProp("finding-key", nameUUID("ocsf-finding", n.SPIFFEID, level))},
		RelatedObservations: &[]oscal.RelatedObservation{{ObservationUuid: observation}},
	}
}

// WriteOSCAL writes the report as an OSCAL assessment-results JSON document.
func (r *Report) WriteOSCAL(w io.Writer, opts OSCALOptions) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.OSCAL(opts)); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

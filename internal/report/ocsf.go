package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// OCSFVersion is the version of the Open Cybersecurity Schema Framework the
// OCSF output follows (metadata.version of every finding).
const OCSFVersion = "1.4.0"

// OCSF identifiers of a Compliance Finding (OCSF 1.4.0: category 2
// Findings, class 2003 Compliance Finding, activity 1 Create; type_uid is
// class_uid * 100 + activity_id).
const (
	ocsfCategoryUID = 2
	ocsfClassUID    = 2003
	ocsfActivityUID = 1
	ocsfTypeUID     = ocsfClassUID*100 + ocsfActivityUID
)

// OCSF compliance status_id values (the compliance object's enum).
const (
	ocsfPass    = 1
	ocsfWarning = 2
	ocsfFail    = 3
)

// OCSF severity_id values used here.
const (
	ocsfInformational = 1
	ocsfMedium        = 3
)

// No Go module has OCSF types: these structs hold the attributes of the
// Compliance Finding class that the output fills (OCSF 1.4.0 names), no
// more. The golden file testdata/report.ocsf.jsonl and TestOCSFRequired
// keep them to the class's required attributes.

// OCSFFinding is one OCSF Compliance Finding (class_uid 2003).
type OCSFFinding struct {
	ActivityID   int    `json:"activity_id"`
	ActivityName string `json:"activity_name"`
	CategoryUID  int    `json:"category_uid"`
	CategoryName string `json:"category_name"`
	ClassUID     int    `json:"class_uid"`
	ClassName    string `json:"class_name"`
	TypeUID      int    `json:"type_uid"`
	TypeName     string `json:"type_name"`
	SeverityID   int    `json:"severity_id"`
	Severity     string `json:"severity"`
	// Time is when the report was built, in milliseconds since the epoch.
	Time        int64           `json:"time"`
	Message     string          `json:"message"`
	Metadata    OCSFMetadata    `json:"metadata"`
	FindingInfo OCSFFindingInfo `json:"finding_info"`
	Compliance  OCSFCompliance  `json:"compliance"`
	Resources   []OCSFResource  `json:"resources"`
}

// OCSFMetadata is the finding's metadata object.
type OCSFMetadata struct {
	Version string      `json:"version"`
	Product OCSFProduct `json:"product"`
}

// OCSFProduct names hwattest as the product that made the finding.
type OCSFProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
}

// OCSFFindingInfo is the finding_info object. UID is the same for the same
// node and level in every report, so that a CSPM tool updates one finding
// instead of adding one per report.
type OCSFFindingInfo struct {
	UID   string   `json:"uid"`
	Title string   `json:"title"`
	Desc  string   `json:"desc"`
	Types []string `json:"types"`
}

// OCSFCompliance is the compliance object: the level's control in the
// hwattest levels catalog and whether the node meets it.
type OCSFCompliance struct {
	Control      string   `json:"control"`
	Standards    []string `json:"standards"`
	Requirements []string `json:"requirements"`
	StatusID     int      `json:"status_id"`
	Status       string   `json:"status"`
	StatusDetail string   `json:"status_detail"`
}

// OCSFResource is the node (its SPIRE agent) the finding is about.
type OCSFResource struct {
	UID    string           `json:"uid"`
	Name   string           `json:"name"`
	Type   string           `json:"type"`
	Labels []string         `json:"labels"`
	Data   OCSFNodeEvidence `json:"data"`
}

// OCSFNodeEvidence is the evidence summary of a node: what the SPIRE server
// recorded at its last attestation.
type OCSFNodeEvidence struct {
	AttestationType string   `json:"attestation_type"`
	EKHash          string   `json:"ek_hash"`
	Manufacturer    string   `json:"manufacturer"`
	SecureBoot      string   `json:"secure_boot"`
	Levels          []string `json:"levels"`
	Policies        []string `json:"policies"`
	NodeStatus      string   `json:"node_status"`
	SVIDExpiresAt   string   `json:"svid_expires_at"`
	SVIDSerial      string   `json:"svid_serial_number"`
}

// OCSFStandard is the name of the standard the findings check, as the
// compliance object's standards list holds it.
const OCSFStandard = "hwattest attestation levels"

// OCSF builds the report's OCSF Compliance Findings: one per node per
// level, nodes in report order, levels lowest first.
func (r *Report) OCSF() []OCSFFinding {
	out := []OCSFFinding{}
	for _, n := range r.Nodes {
		for _, level := range r.Levels {
			out = append(out, r.ocsfFinding(n, level))
		}
	}
	return out
}

func (r *Report) ocsfFinding(n Node, level string) OCSFFinding {
	ctl, ok := controlFor(level)
	controlID := ctl.ID
	if !ok {
		controlID = level
	}
	statusID, detail := ocsfStatus(n, level)
	f := OCSFFinding{
		ActivityID: ocsfActivityUID, ActivityName: "Create",
		CategoryUID: ocsfCategoryUID, CategoryName: "Findings",
		ClassUID: ocsfClassUID, ClassName: "Compliance Finding",
		TypeUID: ocsfTypeUID, TypeName: "Compliance Finding: Create",
		SeverityID: ocsfInformational, Severity: "Informational",
		Time:     r.GeneratedAt.UnixMilli(),
		Metadata: OCSFMetadata{Version: OCSFVersion, Product: OCSFProduct{Name: "hwattest", VendorName: "hwattest"}},
		FindingInfo: OCSFFindingInfo{
			UID:   nameUUID("ocsf-finding", n.SPIFFEID, level),
			Title: fmt.Sprintf("Node attestation level %s", level),
			Desc:  fmt.Sprintf("Whether node %s meets attestation level %s (policy %s) at its last attestation.", n.SPIFFEID, level, level),
			Types: []string{"Attestation Level"},
		},
		Compliance: OCSFCompliance{
			Control: controlID, Standards: []string{OCSFStandard}, Requirements: []string{"tpm:policy:" + level},
			StatusID: statusID, Status: ocsfStatusName(statusID), StatusDetail: detail,
		},
		Resources: []OCSFResource{{
			UID: n.SPIFFEID, Name: n.SPIFFEID, Type: "SPIRE Agent", Labels: append([]string{}, n.Selectors...),
			Data: OCSFNodeEvidence{AttestationType: n.AttestationType, EKHash: n.EKHash, Manufacturer: n.Manufacturer,
				SecureBoot: n.SecureBoot, Levels: n.Levels, Policies: n.Policies, NodeStatus: n.Status,
				SVIDExpiresAt: timeString(n.SVIDExpiresAt), SVIDSerial: n.SVIDSerial},
		}},
	}
	if statusID != ocsfPass {
		f.SeverityID, f.Severity = ocsfMedium, "Medium"
	}
	f.Message = fmt.Sprintf("%s: %s %s", n.SPIFFEID, level, strings.ToLower(f.Compliance.Status))
	return f
}

// ocsfStatus decides a node's status at a level. A banned node fails every
// level; a node whose SVID expired gets Warning (its evidence is that of its
// last attestation, and it holds no identity now).
func ocsfStatus(n Node, level string) (int, string) {
	has := false
	for _, l := range n.Levels {
		if l == level {
			has = true
		}
	}
	switch {
	case n.Status == StatusBanned:
		return ocsfFail, "the agent is banned: it gets no identity whatever its level"
	case n.Status == StatusExpired:
		return ocsfWarning, "the agent's SVID expired at " + timeString(n.SVIDExpiresAt) + ": it has no identity now and has not attested since"
	case has:
		return ocsfPass, "the node holds tpm:policy:" + level + " from its last attestation"
	}
	return ocsfFail, "the node does not hold tpm:policy:" + level + ": its last attestation did not satisfy the policy"
}

func ocsfStatusName(id int) string {
	switch id {
	case ocsfPass:
		return "Pass"
	case ocsfWarning:
		return "Warning"
	}
	return "Fail"
}

// WriteOCSF writes the report as OCSF Compliance Findings, one JSON object
// per line (JSON Lines), as CSPM tools and SIEMs ingest them.
func (r *Report) WriteOCSF(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, f := range r.OCSF() {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Formats the report renders to.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
	FormatHTML  = "html"
	FormatOCSF  = "ocsf"
	FormatOSCAL = "oscal"
)

// Formats lists every format, in the order help texts show them.
var Formats = []string{FormatTable, FormatJSON, FormatCSV, FormatHTML, FormatOCSF, FormatOSCAL}

// Write renders r to w in format.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case FormatTable:
		return r.WriteTable(w)
	case FormatJSON:
		return r.WriteJSON(w)
	case FormatCSV:
		return r.WriteCSV(w)
	case FormatHTML:
		return r.WriteHTML(w)
	case FormatOCSF:
		return r.WriteOCSF(w)
	case FormatOSCAL:
		return r.WriteOSCAL(w, OSCALOptions{})
	}
	return fmt.Errorf("report: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// WriteJSON writes the report as indented JSON (schema in docs/cli.md).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// WriteTable writes the report as aligned text for a terminal.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Levels (lowest first): %s\n\n", orDash(clean(strings.Join(r.Levels, ", "))))
	fmt.Fprintf(tw, "NODE\tSTATUS\tHIGHEST LEVEL\tLEVELS\tGAPS\tSECURE BOOT\tMANUFACTURER\tEK HASH\tSVID EXPIRES\n")
	for _, n := range r.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", clean(n.SPIFFEID), n.Status, orDash(clean(n.HighestLevel)),
			orDash(clean(strings.Join(n.Levels, ","))), orDash(clean(strings.Join(n.LevelGaps, ","))), clean(n.SecureBoot), orDash(clean(n.Manufacturer)), orDash(short(clean(n.EKHash))), orDash(timeString(n.SVIDExpiresAt)))
	}
	if len(r.Nodes) == 0 {
		fmt.Fprintf(tw, "(no agents)\n")
	}
	fmt.Fprintf(tw, "\nNODE ALIAS\tREQUIRED POLICIES\tNODES\tSELECTORS\n")
	for _, a := range r.NodeAliases {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", clean(a.SPIFFEID), orDash(clean(strings.Join(a.RequiredPolicies, ","))), len(a.Nodes), clean(strings.Join(a.Selectors, " ")))
	}
	if len(r.NodeAliases) == 0 {
		fmt.Fprintf(tw, "(no node aliases)\n")
	}
	fmt.Fprintf(tw, "\nWORKLOAD\tPARENT\tPARENT KIND\tREQUIRED LEVEL\tREQUIRED POLICIES\tNODES\tSELECTORS\n")
	for _, wl := range r.Workloads {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", clean(wl.SPIFFEID), clean(wl.ParentID), wl.ParentKind,
			orDash(clean(wl.RequiredLevel)), orDash(clean(strings.Join(wl.RequiredPolicies, ","))), len(wl.Nodes), clean(strings.Join(wl.Selectors, " ")))
	}
	if len(r.Workloads) == 0 {
		fmt.Fprintf(tw, "(no workload entries)\n")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// csvHeader is the CSV report's one header; the kind column says which
// columns a row fills.
var csvHeader = []string{"kind", "spiffe_id", "entry_id", "parent_id", "parent_kind", "attestation_type", "ek_hash",
	"manufacturer", "secure_boot", "status", "levels", "highest_level", "required_policies", "required_level",
	"nodes", "selectors", "svid_expires_at", "banned", "can_reattest", "level_gaps"}

// CSV row kinds.
const (
	kindNode     = "node"
	kindAlias    = "node_alias"
	kindWorkload = "workload"
)

// WriteCSV writes the report as one CSV table: a header, then one row per
// node, per node alias and per workload entry (the kind column). Lists are
// joined with ";".
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rows := [][]string{csvHeader}
	for _, n := range r.Nodes {
		rows = append(rows, csvRow(map[string]string{
			"kind": kindNode, "spiffe_id": n.SPIFFEID, "attestation_type": n.AttestationType, "ek_hash": n.EKHash,
			"manufacturer": n.Manufacturer, "secure_boot": n.SecureBoot, "status": n.Status, "levels": list(n.Levels),
			"highest_level": n.HighestLevel, "selectors": list(n.Selectors), "svid_expires_at": timeString(n.SVIDExpiresAt),
			"banned": strconv.FormatBool(n.Banned), "can_reattest": strconv.FormatBool(n.CanReattest),
			"level_gaps": list(n.LevelGaps),
		}))
	}
	for _, a := range r.NodeAliases {
		rows = append(rows, csvRow(map[string]string{
			"kind": kindAlias, "spiffe_id": a.SPIFFEID, "entry_id": a.EntryID, "required_policies": list(a.RequiredPolicies),
			"nodes": list(a.Nodes), "selectors": list(a.Selectors),
		}))
	}
	for _, wl := range r.Workloads {
		rows = append(rows, csvRow(map[string]string{
			"kind": kindWorkload, "spiffe_id": wl.SPIFFEID, "entry_id": wl.EntryID, "parent_id": wl.ParentID,
			"parent_kind": wl.ParentKind, "required_policies": list(wl.RequiredPolicies), "required_level": wl.RequiredLevel,
			"nodes": list(wl.Nodes), "selectors": list(wl.Selectors),
		}))
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func csvRow(m map[string]string) []string {
	row := make([]string, len(csvHeader))
	for i, h := range csvHeader {
		row[i] = spreadsheetSafe(m[h])
	}
	return row
}

// spreadsheetSafe keeps a spreadsheet from reading a value from SPIRE as a
// formula: one that starts with =, +, -, @, tab or CR gets a leading '.
func spreadsheetSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func list(l []string) string { return strings.Join(l, ";") }

func timeString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short abbreviates a hash for the terminal.
func short(h string) string {
	if len(h) <= 16 {
		return h
	}
	return h[:8] + "..." + h[len(h)-4:]
}

// clean replaces control characters, so that a value from SPIRE cannot
// move the cursor or break the table's columns.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and a few lines of inline JavaScript that sort a table by the clicked
// column; no external asset. html/template escapes every value from SPIRE.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := pageTemplate.Execute(w, r); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":  strings.Join,
	"time":  timeString,
	"short": short,
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hwattest report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th.asc::after { content: " \25B2"; } th.desc::after { content: " \25BC"; }
td.mono { font-family: ui-monospace, monospace; word-break: break-all; }
.status { font-weight: bold; border-radius: 3px; padding: 0 0.4em; }
.s-ok { background: #c8efc8; color: #145214; }
.s-partial { background: #fbe7b0; color: #6b4b00; }
.s-none { background: #f6c6c6; color: #7a1010; }
.s-banned { background: #444; color: #fff; }
.s-expired { background: #f6c6c6; color: #7a1010; font-style: italic; }
.sb-enabled { color: #145214; } .sb-disabled { color: #7a1010; } .sb-unknown { color: #777; }
.muted { color: #777; }
</style>
</head>
<body>
<h1>hwattest compliance report</h1>
<p>Generated {{.GeneratedAt.Format "2006-01-02T15:04:05Z07:00"}}, schema version {{.SchemaVersion}}.
Levels, lowest first: {{if .Levels}}{{join .Levels ", "}}{{else}}<span class="muted">none</span>{{end}}.</p>

<h2>Nodes ({{len .Nodes}})</h2>
<table class="sortable" id="nodes">
<thead><tr><th>Node</th><th>Status</th><th>Highest level</th><th>Levels</th><th>Gaps</th><th>Secure boot</th><th>Manufacturer</th><th>EK hash</th><th>SVID expires</th><th>Can re-attest</th></tr></thead>
<tbody>
{{range .Nodes}}<tr>
<td class="mono">{{.SPIFFEID}}</td>
<td><span class="status s-{{.Status}}">{{.Status}}</span></td>
<td>{{.HighestLevel}}</td>
<td>{{join .Levels ", "}}</td>
<td>{{join .LevelGaps ", "}}</td>
<td class="sb-{{.SecureBoot}}">{{.SecureBoot}}</td>
<td>{{.Manufacturer}}</td>
<td class="mono" title="{{.EKHash}}">{{short .EKHash}}</td>
<td>{{time .SVIDExpiresAt}}</td>
<td>{{.CanReattest}}</td>
</tr>
{{else}}<tr><td colspan="10" class="muted">no agents</td></tr>
{{end}}</tbody>
</table>

<h2>Workloads ({{len .Workloads}})</h2>
<table class="sortable" id="workloads">
<thead><tr><th>Workload</th><th>Parent</th><th>Parent kind</th><th>Required level</th><th>Required policies</th><th>Nodes</th><th>Selectors</th></tr></thead>
<tbody>
{{range .Workloads}}<tr>
<td class="mono">{{.SPIFFEID}}</td>
<td class="mono">{{.ParentID}}</td>
<td>{{.ParentKind}}</td>
<td>{{.RequiredLevel}}</td>
<td>{{join .RequiredPolicies ", "}}</td>
<td>{{len .Nodes}}</td>
<td class="mono">{{join .Selectors " "}}</td>
</tr>
{{else}}<tr><td colspan="7" class="muted">no workload entries</td></tr>
{{end}}</tbody>
</table>

<h2>Node aliases ({{len .NodeAliases}})</h2>
<table class="sortable" id="aliases">
<thead><tr><th>Alias</th><th>Required policies</th><th>Nodes</th><th>Selectors</th></tr></thead>
<tbody>
{{range .NodeAliases}}<tr>
<td class="mono">{{.SPIFFEID}}</td>
<td>{{join .RequiredPolicies ", "}}</td>
<td>{{len .Nodes}}</td>
<td class="mono">{{join .Selectors " "}}</td>
</tr>
{{else}}<tr><td colspan="4" class="muted">no node aliases</td></tr>
{{end}}</tbody>
</table>

<script>
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
    var desc = th.classList.contains("asc");
    table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(desc ? "desc" : "asc");
    var rows = Array.from(body.rows).filter(function (r) { return r.cells.length > col; });
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      var c = x.localeCompare(y, undefined, {numeric: true});
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
</script>
</body>
</html>
`

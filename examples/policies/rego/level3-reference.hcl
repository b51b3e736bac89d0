# Level 3 as a Rego policy: level3-reference.rego decides it (the same
# decision as ../level3-reference.hcl). Use one or the other under the name
# level3-reference, not both: a name may be defined once.
policy "level3-reference" {
  required  = false
  rego_path = "level3-reference.rego"
  query     = "data.hwattest.allow"
}

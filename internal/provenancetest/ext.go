package provenancetest

import (
	"crypto/x509/pkix"
	"encoding/asn1"
)

func pkixExt(oid asn1.ObjectIdentifier, der []byte) pkix.Extension {
	return pkix.Extension{Id: oid, Value: der}
}

// Package jsonpos turns byte offsets in a JSON document into the line
// numbers tdro's error messages name.
package jsonpos

import "bytes"

// LineOf returns the 1-based line holding byte offset off of doc (offsets
// outside doc are clamped).
func LineOf(doc []byte, off int64) int {
	off = max(0, min(off, int64(len(doc))))
	return 1 + bytes.Count(doc[:off], []byte{'\n'})
}

// ValueStart moves off past blanks, commas and colons to where the next
// JSON value starts (encoding/json's InputOffset points just after the
// previous token).
func ValueStart(doc []byte, off int64) int64 {
	for off < int64(len(doc)) {
		switch doc[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

package openhash

import "fmt"

// FormatError is a buffer that breaks the format. Open, Validate, Check and
// CheckControl return one for a malformed buffer, and Insert, Delete and
// Grow wrap theirs, so a caller finds it with errors.As and never has to
// take an error's text apart. It wraps ErrInvalid.
type FormatError struct {
	// Rule is the consistency rule of docs/openhash-format.md section 4
	// that the buffer breaks: 1 for the header (and the length it
	// implies), 2 to 6 for the table.
	Rule int
	// Field is the header field at fault, as the format's header table
	// names it ("magic", "version", "flags", "width", "slots", "groups",
	// "count", "reserved"), or "length" when the buffer is not as long
	// as the header says; "count" for rule 6 too. Empty otherwise.
	Field string
	// Reason says what is wrong in words, with the values and, for a
	// fault in the table, the group and slot: "unsupported version 0",
	// "group 3 slot 1: control byte 0x05 is neither empty nor full". It is
	// what a server tells the client that sent the buffer.
	Reason string
}

func (e *FormatError) Error() string { return "openhash: " + e.Reason + ": " + ErrInvalid.Error() }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FormatError) Unwrap() error { return ErrInvalid }

// headerError is a rule 1 fault of the header field named.
func headerError(field, format string, args ...any) error {
	return &FormatError{Rule: 1, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// tableError is a fault in the table, against rule 2 to 6.
func tableError(rule int, format string, args ...any) error {
	e := &FormatError{Rule: rule, Reason: fmt.Sprintf(format, args...)}
	if rule == 6 {
		e.Field = "count"
	}
	return e
}

// Package invariants says whether this build runs the expensive
// consistency checks: the whole-table openhash Check after every mutation
// of a relation set, and the store's recount of its memory and key
// accounting after writes. They are built in with `-tags invariants`
// (make test runs the unit tests once so); without the tag Enabled is the
// constant false, so every `if invariants.Enabled` branch is compiled out
// and release builds pay nothing. Pebble's internal/invariants is the
// model.
package invariants

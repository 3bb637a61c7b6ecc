package proxyfront

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// The translation of go-toml's decode errors into messages for someone
// editing the config file; config_test.go and testdata/config/*.err pin
// every one. What go-toml v2.2.3 gives typed is read from the type: the
// position from *toml.DecodeError, the key path of an unknown key or table
// from *toml.StrictMissingError. The rest it gives only as text, so that is
// matched: whether a strict error is a table ("missing table"), a type
// mismatch (it names the Go struct field, not the TOML key, and no
// DecodeError carries the key), a negative number for an unsigned field,
// and a table where an array of tables belongs. A go-toml upgrade that
// rewords them shows up as a changed golden, not as a worse message.

// configDecodeError rewrites go-toml's errors for someone editing the file: one
// line per unknown key, positions as name:line:col, and TOML keys instead of
// Go field names.
func configDecodeError(name string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			row, col := e.Position()
			errs = append(errs, fmt.Errorf("%s:%d:%d: %s", name, row, col, configUnknownKey(e)))
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		return fmt.Errorf("%s:%d:%d: %s", name, row, col, friendlierTOMLError(strings.TrimPrefix(de.Error(), "toml: ")))
	}
	return fmt.Errorf("%s: %s", name, friendlierTOMLError(strings.TrimPrefix(err.Error(), "toml: ")))
}

// configUnknownKey describes one key strict decoding found no field for, with a
// suggestion when a known key is a typo away.
func configUnknownKey(e *toml.DecodeError) string {
	k := e.Key()
	if len(k) == 0 {
		return "unknown key"
	}
	last, parent := k[len(k)-1], k[:len(k)-1]
	known := configKeys
	if len(parent) == 1 && parent[0] == "pool" {
		known = poolKeys
	} else if len(parent) == 1 && parent[0] == "http" {
		known = httpKeys
	} else if len(parent) == 1 && parent[0] == "l1" {
		known = l1Keys
	} else if len(parent) > 0 {
		known = nil
	}
	var msg string
	if strings.HasSuffix(e.Error(), "missing table") {
		msg = "unknown table [" + strings.Join(k, ".") + "]"
	} else {
		msg = fmt.Sprintf("unknown key %q", last)
		switch {
		case len(parent) == 1 && parent[0] == "pool":
			msg += " in [[pool]]"
		case len(parent) > 0:
			msg += " in [" + strings.Join(parent, ".") + "]"
		}
	}
	if s := suggestKey(last, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// configKeys, poolKeys, httpKeys and l1Keys are the TOML keys of Config,
// Pool, HTTPConfig and L1Config, for
// suggestions and for naming fields in decoder errors.
var (
	configKeys = tomlKeysOf(reflect.TypeFor[Config]())
	poolKeys   = tomlKeysOf(reflect.TypeFor[Pool]())
	httpKeys   = tomlKeysOf(reflect.TypeFor[HTTPConfig]())
	l1Keys     = tomlKeysOf(reflect.TypeFor[L1Config]())
)

func tomlKeysOf(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// tomlKeyOfField returns the TOML key of the Config or Pool field named goName.
func tomlKeyOfField(typeName, goName string) string {
	t := reflect.TypeFor[Config]()
	if typeName == "Pool" {
		t = reflect.TypeFor[Pool]()
	}
	if f, ok := t.FieldByName(goName); ok {
		if k, _, _ := strings.Cut(f.Tag.Get("toml"), ","); k != "" && k != "-" {
			return k
		}
	}
	return goName
}

// suggestKey returns the known key closest to s, if it is at most two edits
// away (and closer than s is long).
func suggestKey(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := keyEditDistance(s, k); d < bestD && d < len(s) {
			best, bestD = k, d
		}
	}
	return best
}

// keyEditDistance is the Levenshtein distance between a and b, in bytes.
func keyEditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // not worth the work: no key is that long
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var (
	// go-toml's "cannot decode TOML integer into struct field
	// proxyfront.Config.Listen of type string".
	tomlTypeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into struct field [\w.]*\b(Config|Pool)\.(\w+) of type (\S+)$`)
	// go-toml's "negative number -1 does not fit in an uint64"; dbs is the
	// only unsigned key.
	tomlNegativeUint = regexp.MustCompile(`^negative number (\S+) does not fit in an uint64$`)
)

// friendlierTOMLError rewrites the go-toml messages that name Go types and fields.
func friendlierTOMLError(msg string) string {
	if m := tomlTypeMismatch.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s: want %s, not a TOML %s", tomlKeyOfField(m[2], m[3]), tomlTypeText(m[4]), m[1])
	}
	if m := tomlNegativeUint.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("dbs: want an integer >= 1, not %s", m[1])
	}
	if msg == "cannot store a table in a slice" {
		return "a table where an array belongs (pools are written [[pool]], with two brackets)"
	}
	return msg
}

func tomlTypeText(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "int" || goType == "int64" || goType == "uint64":
		return "an integer"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case goType == "[]string":
		return "an array of strings"
	case strings.HasSuffix(goType, "Duration"):
		return "a duration string such as \"2s\""
	case strings.HasPrefix(goType, "[]") && strings.HasSuffix(goType, ".Pool"):
		return "[[pool]] tables"
	}
	return goType
}

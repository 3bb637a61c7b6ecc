package acl

import (
	"fmt"
	"strings"
)

// FileError is what is wrong with an aclfile: every problem, in Redis's
// words, each "path:line: reason.", then Redis's closing warning.
type FileError struct{ Problems []string }

func (e *FileError) Error() string {
	return strings.Join(e.Problems, " ") + " WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
}

// ParseFile reads an aclfile as Redis 7.0's ACLLoadFromFile does: lines
// of "user <name> <rules...>" split on single spaces, blank lines skipped,
// each rule trimmed of tabs and line ends. Any error (a *FileError, naming
// every bad line) means no user is taken.
func ParseFile(cat *Catalog, path string, data []byte) ([]*User, error) {
	var users []*User
	var problems []string
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.Trim(line, " \t\r\n")
		if line == "" {
			continue
		}
		f := strings.Split(line, " ")
		if f[0] != "user" || len(f) < 2 {
			problems = append(problems, fmt.Sprintf("%s:%d should start with user keyword followed by the username.", path, n))
			continue
		}
		name := f[1]
		if !ValidName(name) {
			problems = append(problems, fmt.Sprintf("'%s:%d: username '%s' contains invalid characters.", path, n, name))
			continue
		}
		if seen[name] {
			problems = append(problems, fmt.Sprintf("WARNING: Duplicate user '%s' found on line %d.", name, n))
			continue
		}
		seen[name] = true
		u := newUser(cat, name)
		ok := true
		for _, r := range f[2:] {
			if err := u.apply(strings.Trim(r, "\t\r\n")); err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d: %s.", path, n, err))
				ok = false
			}
		}
		if ok {
			u.finish()
			users = append(users, u)
		}
	}
	if problems != nil {
		return nil, &FileError{Problems: problems}
	}
	return users, nil
}

package server

import (
	"os"
	"strings"
	"testing"
)

// TestEveryCommandDocumented keeps docs/commands.md in step with the command
// table: each command must appear there in backquotes.
func TestEveryCommandDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/commands.md")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t)
	for name := range s.cmds {
		if !strings.Contains(string(doc), "`"+strings.ToUpper(name)) {
			t.Errorf("docs/commands.md does not document %s", strings.ToUpper(name))
		}
	}
}

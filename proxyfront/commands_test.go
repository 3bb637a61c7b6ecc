package proxyfront

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/relcache/relcache/internal/relcachetest"
)

// TestCommandTableMatchesNode keeps the proxy's table in step with a real
// relcache node's COMMAND: every command the node serves is routed or
// refused by name (never "unknown"), with the node's arity, so the proxy
// refuses a malformed command with the node's words.
func TestCommandTableMatchesNode(t *testing.T) {
	node := relcachetest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: node.Addr, Protocol: 2})
	defer rdb.Close()
	infos, err := rdb.Command(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	table, err := commandTable(newMetrics())
	if err != nil {
		t.Fatal(err)
	}
	for name, info := range infos {
		cmd, ok := table[strings.ToLower(name)]
		switch {
		case !ok:
			t.Errorf("relcache serves %s; the proxy's table does not have it", name)
		case cmd.arity != -1 && int(info.Arity) != cmd.arity:
			t.Errorf("%s: proxy arity %d, node arity %d", name, cmd.arity, info.Arity)
		}
	}
	if len(infos) < 80 {
		t.Fatalf("COMMAND listed only %d commands", len(infos))
	}
}

package relcachetest

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestMariaDB starts a server, counts a SELECT, and checks a row written
// before Stop is there after Restart.
func TestMariaDB(t *testing.T) {
	m := StartMariaDB(t)
	db, err := sql.Open("mysql", m.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		"DROP DATABASE IF EXISTS relcachetest",
		"CREATE DATABASE relcachetest",
		"CREATE TABLE relcachetest.t (k INT PRIMARY KEY)",
		"INSERT INTO relcachetest.t VALUES (42)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	before := m.Selects()
	var k int
	if err := db.QueryRowContext(ctx, "SELECT k FROM relcachetest.t").Scan(&k); err != nil || k != 42 {
		t.Fatalf("select: %d, %v", k, err)
	}
	if got := m.Selects() - before; got != 1 {
		t.Errorf("Com_select grew by %d, want 1", got)
	}

	m.Stop()
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx2); err == nil {
		t.Fatal("ping after Stop succeeded")
	}
	m.Restart()
	if err := db.QueryRowContext(ctx, "SELECT k FROM relcachetest.t").Scan(&k); err != nil || k != 42 {
		t.Fatalf("select after restart: %d, %v", k, err)
	}
}

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// onSIGHUP runs reload on every SIGHUP until ctx is done; the returned
// function stops listening. Without it Go ends the process on SIGHUP.
func onSIGHUP(ctx context.Context, reload func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload()
			}
		}
	}()
	return func() { signal.Stop(hup) }
}

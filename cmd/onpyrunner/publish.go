package main

import (
	"context"
	"log/slog"
	"time"
)

// publishing calls publish now and then every d until ctx ends, logging
// what as a warning when it fails (again only when its error changes) and
// once when it works again.
func publishing(ctx context.Context, d time.Duration, what string, log *slog.Logger, publish func(context.Context) error) error {
	t := time.NewTicker(d)
	defer t.Stop()
	failing := "" // the error last logged: a lasting one is logged once
	for {
		err := publish(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil && err.Error() != failing:
			failing = err.Error()
			log.Warn(what+" (logged again only when the error changes)", "err", err)
		case err == nil && failing != "":
			failing = ""
			log.Info(what + ": working again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// signersEvery is how often a serve process that signs webhooks tells
// Redis its secret's fingerprint; it is forgotten three times that long
// after the process stops.
const signersEvery = 10 * time.Second

// signerPublisher is the store, where processes share one (Redis).
type signerPublisher interface {
	PublishSigner(ctx context.Context, fp string, ttl time.Duration) ([]string, error)
}

// watchSigners publishes fp, this process's webhook secret's fingerprint,
// every d, and warns while the live processes sharing the store sign with
// more than one secret: a receiver rejects the deliveries signed with a
// secret it does not know (to be expected only while a secret is rotated).
func watchSigners(ctx context.Context, store signerPublisher, fp string, d time.Duration, log *slog.Logger) error {
	differ := false
	return publishing(ctx, d, "publish the webhook secret's fingerprint", log, func(ctx context.Context) error {
		live, err := store.PublishSigner(ctx, fp, 3*d)
		if err != nil {
			return err
		}
		switch {
		case len(live) > 1 && !differ:
			log.Warn("the serve processes sharing this Redis sign webhooks with different secrets: receivers reject the deliveries signed with a secret they do not know; give every process the same --webhook-secret",
				"secrets", len(live), "this", fp, "live", live)
		case len(live) <= 1 && differ:
			log.Info("the serve processes sharing this Redis sign webhooks with one secret again", "this", fp)
		}
		differ = len(live) > 1
		return nil
	})
}

package onpyrunner

import (
	"context"
	"time"
)

// Outbox is a store's queue of webhook deliveries owed: a job with a
// CallbackURL is put in it in the same step that ends the job, whichever
// process ends it, so a delivery owed outlives the process that owes it.
// Both stores implement it; package webhook delivers.
type Outbox interface {
	// ClaimDeliveries takes up to n of the deliveries that are due, holds
	// each for lease (after which it is due again, should its deliverer
	// die) and counts a try of each.
	ClaimDeliveries(ctx context.Context, n int, lease time.Duration) ([]Delivery, error)
	// RetryDelivery makes a claimed delivery due again after `after`.
	RetryDelivery(ctx context.Context, jobID string, after time.Duration) error
	// DropDelivery removes a delivery: made, or given up.
	DropDelivery(ctx context.Context, jobID string) error
	// AwaitDeliveries returns when a job with a callback may have ended
	// since the last call, or after at most d, or when ctx ends.
	AwaitDeliveries(ctx context.Context, d time.Duration)
}

// CanceledDeliveryDelay is how long the delivery of a job canceled while
// it ran waits for the output its run wrote until the cancel (which its
// worker adds to the job when the run has stopped).
const CanceledDeliveryDelay = 2 * time.Second

// Delivery is a webhook delivery owed: the job whose final state it
// sends, and the tries made so far, this one included.
type Delivery struct {
	JobID string
	Tries int
}

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
	// RetryDelivery makes claimed delivery d due again after `after`,
	// noting why its try failed.
	RetryDelivery(ctx context.Context, d Delivery, after time.Duration, why string) error
	// DeferDelivery makes claimed delivery d due again after `after`
	// without counting the try it was claimed for: it was not tried
	// (its receiver's host has enough deliveries in flight).
	DeferDelivery(ctx context.Context, d Delivery, after time.Duration) error
	// SettleDelivery ends delivery d: made (Delivered), or given up
	// (DeliveryFailed, with why). Its state is kept as long as its job.
	SettleDelivery(ctx context.Context, d Delivery, state DeliveryStatus, why string) error
	// DeliveryOf says how the delivery of job id's end stands, or nil
	// where none is owed (no callback, or the job has not ended).
	DeliveryOf(ctx context.Context, jobID string) (*DeliveryState, error)
	// AwaitDeliveries returns when a job with a callback may have ended
	// since the last call, or after at most d, or when ctx ends.
	AwaitDeliveries(ctx context.Context, d time.Duration)
}

// CanceledDeliveryDelay is how long the delivery of a job canceled while
// it ran waits for the output its run wrote until the cancel (which its
// worker adds to the job when the run has stopped).
const CanceledDeliveryDelay = 2 * time.Second

// DeliveryStatus is where a webhook delivery is.
type DeliveryStatus string

// The delivery statuses.
const (
	// DeliveryPending: not made yet; tried again later, or soon.
	DeliveryPending DeliveryStatus = "pending"
	// Delivered: the receiver answered 2xx.
	Delivered DeliveryStatus = "delivered"
	// DeliveryFailed: given up (its tries ran out, the receiver answered
	// 410, or its address is refused).
	DeliveryFailed DeliveryStatus = "failed"
)

// DeliveryState is how a job's webhook delivery stands: the "webhook"
// object of the job in the API.
type DeliveryState struct {
	Status DeliveryStatus `json:"status"`
	Tries  int            `json:"tries"`
	// Error says why the last try failed (none once delivered).
	Error string `json:"error,omitempty"`
}

// Delivery is a webhook delivery owed: the job whose final state it
// sends, and the tries made so far, this one included.
type Delivery struct {
	JobID string
	Tries int
}

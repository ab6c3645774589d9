package cashierapi

import (
	"context"
	"net/http"

	"sanshi/internal/chassis/httpclient"
)

// PaymentInput starts a payment of an order on a channel.
type PaymentInput struct {
	OrderID string `json:"order_id"`
	Channel string `json:"channel"`
}

// Channels lists the payment channels offered.
func (c Client) Channels(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/payments/channels", nil, out, nil)
}

// Pay starts a payment; the same key returns the same payment. header may
// carry more (the site passes X-Forwarded-Host for the pay page's address).
func (c Client) Pay(ctx context.Context, key string, in PaymentInput, header http.Header, out any) error {
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	for k, v := range httpclient.Key(key) {
		h[k] = v
	}
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/payments", in, out, h)
}

// SandboxPagePrefix starts the path of every sandbox pay page.
const SandboxPagePrefix = "/api/v1/payments/sandbox/"

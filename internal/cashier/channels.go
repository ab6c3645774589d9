package cashier

import (
	"log/slog"

	"sanshi/internal/chassis/props"
)

// channelDefaults declares the configuration keys of the channels. Empty
// credentials mean the channel is not offered.
func channelDefaults() map[string]string {
	return map[string]string{
		"cashier.sandbox.enabled": "true",
	}
}

// configuredChannels returns the channels with credentials.
func configuredChannels(p *props.Props, sb *Sandbox, log *slog.Logger) map[string]Channel {
	out := map[string]Channel{}
	if v, _ := p.Get("cashier.sandbox.enabled"); v != "false" {
		out["sandbox"] = SandboxChannel{P: sb}
	}
	return out
}

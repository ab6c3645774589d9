package cashier

import (
	"log/slog"
	"time"

	"sanshi/internal/chassis/configstore"
	"sanshi/internal/chassis/props"
)

// channelConfig declares the configuration keys of the channels (each can
// also come from the environment: CASHIER_ALIPAY_APP_ID for
// cashier.alipay.app-id). Empty credentials mean the channel is not offered.
func channelConfig() []configstore.Key {
	var keys []configstore.Key
	for name, def := range map[string]string{
		"cashier.sandbox.enabled":          "false",
		"cashier.alipay.app-id":            "",
		"cashier.alipay.private-key":       "",
		"cashier.alipay.alipay-public-key": "",
		"cashier.alipay.gateway":           "https://openapi.alipay.com/gateway.do",
		"cashier.alipay.notify-url":        "",
		"cashier.wechatpay.mch-id":         "",
		"cashier.wechatpay.app-id":         "",
		"cashier.wechatpay.serial-no":      "",
		"cashier.wechatpay.private-key":    "",
		"cashier.wechatpay.platform-cert":  "",
		"cashier.wechatpay.api-v3-key":     "",
		"cashier.wechatpay.base-url":       "https://api.mch.weixin.qq.com",
		"cashier.wechatpay.notify-url":     "",
	} {
		t := configstore.String
		if name == "cashier.sandbox.enabled" {
			t = configstore.Bool
		}
		keys = append(keys, configstore.Key{Name: name, Type: t, Default: def})
	}
	return keys
}

// configuredChannels returns the channels that have credentials. The
// sandbox, which pays without money, is offered only when configured on
// (sanshi dev and tests turn it on), and never under the production profile.
func configuredChannels(p *props.Props, sb *Sandbox, production bool, log *slog.Logger) map[string]Channel {
	get := func(k string) string { v, _ := p.Get(k); return v }
	out := map[string]Channel{}
	switch on := get("cashier.sandbox.enabled") == "true"; {
	case on && production:
		log.Error("the sandbox channel stays off under the production profile, whatever cashier.sandbox.enabled says")
	case on:
		out["sandbox"] = SandboxChannel{P: sb}
	}
	if get("cashier.alipay.app-id") != "" {
		a, err := NewAlipay(get("cashier.alipay.app-id"), get("cashier.alipay.gateway"), get("cashier.alipay.notify-url"),
			get("cashier.alipay.private-key"), get("cashier.alipay.alipay-public-key"), time.Now)
		if err != nil {
			log.Error("alipay not offered: bad configuration", "error", err)
		} else {
			out["alipay"] = a
		}
	}
	if get("cashier.wechatpay.mch-id") != "" {
		w, err := NewWechatPay(get("cashier.wechatpay.mch-id"), get("cashier.wechatpay.app-id"), get("cashier.wechatpay.serial-no"),
			get("cashier.wechatpay.base-url"), get("cashier.wechatpay.notify-url"), get("cashier.wechatpay.private-key"),
			get("cashier.wechatpay.platform-cert"), get("cashier.wechatpay.api-v3-key"), time.Now)
		if err != nil {
			log.Error("wechatpay not offered: bad configuration", "error", err)
		} else {
			out["wechatpay"] = w
		}
	}
	return out
}

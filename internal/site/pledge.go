package site

import (
	"net/url"
	"strconv"
	"strings"

	"sanshi/internal/member"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/order"
	"sanshi/internal/project"
	"sanshi/internal/project/projectapi"
)

// quote is what a pledge page shows for a choice: the shipping fee to the
// chosen address and the least amount (tier, add-ons and shipping).
type quote struct {
	Fee, Least int64
	NoShip     bool // something chosen does not ship to the address's region
}

// contract is the project as the order service checks pledges against it.
func contract(p project.Project) projectapi.Project {
	c := projectapi.Project{ID: p.ID, AcceptsPledges: p.AcceptsPledges, Deadline: p.Deadline}
	for _, r := range p.Rewards {
		c.Rewards = append(c.Rewards, projectapi.Reward{ID: r.ID, Kind: r.Kind, Alone: r.Alone, Title: r.Title, Price: r.Price,
			Ships: r.Ships, Shipping: r.Shipping, Remaining: r.Remaining})
	}
	return c
}

// quoteFor prices a choice with the order service's own rules.
func quoteFor(p project.Project, tierID string, items []order.Item, region string) quote {
	var tier *string
	if tierID != "" {
		tier = &tierID
	}
	pick, err := order.PickRewards(contract(p), tier, items)
	if err != nil {
		return quote{}
	}
	q := quote{Least: pick.Goods()}
	if pick.Ships {
		fee, err := pick.Shipping(region)
		q.Fee, q.NoShip = fee, err != nil
		q.Least += fee
	}
	return q
}

// addOnItems reads the add-ons' quantities of a pledge form (fields
// "addon-<id>"); a quantity that does not read is left out (the order
// service names a bad one).
func addOnItems(p project.Project, form url.Values) []order.Item {
	var out []order.Item
	for _, r := range p.Rewards {
		if r.Kind != projectapi.KindAddOn {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(form.Get("addon-" + r.ID))); err == nil && n != 0 {
			out = append(out, order.Item{RewardID: r.ID, Quantity: n})
		}
	}
	return out
}

// addOns are the project's add-ons; tiers the rest.
func addOns(p project.Project) (tiers, extras []project.Reward) {
	for _, r := range p.Rewards {
		if r.Kind == projectapi.KindAddOn {
			extras = append(extras, r)
		} else {
			tiers = append(tiers, r)
		}
	}
	return tiers, extras
}

// parseShipping reads a shipping table as a creator writes it: "CN 10,
// HK 30, * 50" (region and fee in yuan per unit; "," or a new line between
// rows). Empty is no table: free everywhere. The regions are checked by
// the project service.
func parseShipping(text string) ([]projectapi.ShippingFee, bool) {
	rows := []projectapi.ShippingFee{}
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '，' || r == '\n' || r == ';' }) {
		f := strings.Fields(strings.ReplaceAll(part, "=", " "))
		if len(f) == 0 {
			continue
		}
		fee, ok := parseYuan(f[len(f)-1])
		if len(f) != 2 || !ok {
			return rows, false
		}
		rows = append(rows, projectapi.ShippingFee{Region: strings.ToUpper(f[0]), Fee: fee})
	}
	return rows, true
}

// shippingText writes a shipping table as parseShipping reads it.
func shippingText(t projectapi.ShippingTable) string {
	parts := make([]string, len(t))
	for i, row := range t {
		parts[i] = row.Region + " " + order.Fen(row.Fee)
	}
	return strings.Join(parts, ", ")
}

// chosenAddress is the address a pledge form uses: the form's, else the
// default, else the first.
func chosenAddress(addrs []member.Address, form url.Values) (member.Address, bool) {
	want := ""
	if form != nil {
		want = form.Get("address_id")
	}
	for _, a := range addrs {
		if a.ID == want || (want == "" && a.Default) {
			return a, true
		}
	}
	if len(addrs) > 0 {
		return addrs[0], true
	}
	return member.Address{}, false
}

// regionOf is an address's region (mainland China when unset).
func regionOf(a member.Address) string {
	if a.Region == "" {
		return memberapi.DefaultRegion
	}
	return a.Region
}

// pledgeFormValues is a changed pledge's current choice as a form, for the
// change page to start from.
func pledgeFormValues(o order.Order) url.Values {
	v := url.Values{"amount": {order.Fen(o.Amount)}}
	if o.RewardID != nil {
		v.Set("reward", *o.RewardID)
	}
	for _, l := range o.AddOns {
		v.Set("addon-"+l.RewardID, strconv.Itoa(l.Quantity))
	}
	return v
}

func init() { addTexts(choiceTexts) }

// choiceTexts are the pledge form's words for add-ons, shipping and
// changes.
var choiceTexts = map[string]map[string]string{
	"zh-CN": {
		"add-ons": "加购", "add-on alone": "可单独购买", "shipping fee": "运费", "least total": "至少", "no ship there": "所选回报不配送到该地区，请换一个地址",
		"change pledge": "修改支持", "save change": "保存修改", "change": "修改",
		"change paid note": "已支付的支持：改后金额更高时需补差价（补齐前保持原样）；更低时差额原路退回。项目截止前一小时内不能修改。",
		"difference":       "补差价", "pledge now": "支持金额", "flash.changed": "支持已修改。", "region": "国家或地区",
		"kind": "类型", "kind.tier": "回报档位", "kind.add_on": "加购", "shipping table": "运费（每件，元；如 CN 10, HK 30, * 50；* 为其他地区，留空为包邮）",
		"err.add_ons": "请检查加购：数量 1–99，且部分加购只能随档位购买", "err.shipping": "运费格式如 CN 10, HK 30, * 50", "err.region": "请选择国家或地区",
		"err.conflict": "这笔支持刚被修改过，请刷新后重试。",
		"region.CN":    "中国大陆", "region.HK": "中国香港", "region.MO": "中国澳门", "region.TW": "中国台湾", "region.US": "美国", "region.CA": "加拿大", "region.GB": "英国", "region.DE": "德国", "region.FR": "法国", "region.JP": "日本", "region.KR": "韩国", "region.SG": "新加坡", "region.MY": "马来西亚", "region.AU": "澳大利亚", "region.NZ": "新西兰",
	},
	"en": {
		"add-ons": "Add-ons", "add-on alone": "can be bought alone", "shipping fee": "Shipping", "least total": "at least", "no ship there": "Something chosen does not ship to that region; choose another address",
		"change pledge": "Change pledge", "save change": "Save change", "change": "Change",
		"change paid note": "A paid pledge: a higher total is settled by paying the difference (until then it stays as it is); a lower one is refunded the same way it was paid. No changes in the project's last hour.",
		"difference":       "Pay the difference", "pledge now": "pledge", "flash.changed": "Your pledge was changed.", "region": "Country or region",
		"kind": "Kind", "kind.tier": "Reward tier", "kind.add_on": "Add-on", "shipping table": "Shipping per unit (CNY; e.g. CN 10, HK 30, * 50; * is everywhere else; empty ships free)",
		"err.add_ons": "Check the add-ons: quantities 1–99, and some come only with a reward tier", "err.shipping": "Shipping like CN 10, HK 30, * 50", "err.region": "Choose a country or region",
		"err.conflict": "This pledge was just changed; reload and try again.",
		"region.CN":    "Mainland China", "region.HK": "Hong Kong, China", "region.MO": "Macao, China", "region.TW": "Taiwan, China", "region.US": "United States", "region.CA": "Canada", "region.GB": "United Kingdom", "region.DE": "Germany", "region.FR": "France", "region.JP": "Japan", "region.KR": "South Korea", "region.SG": "Singapore", "region.MY": "Malaysia", "region.AU": "Australia", "region.NZ": "New Zealand",
	},
}

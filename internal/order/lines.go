package order

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/ids"
	"sanshi/internal/project/projectapi"
)

// MaxAddOnQuantity bounds one add-on's quantity in a pledge.
const MaxAddOnQuantity = 99

// Item is a quantity of an add-on, as a backer asks for it.
type Item = projectapi.Item

// AddOnLine is an add-on of a pledge as it was bought: its title and price
// at that moment, and the quantity.
type AddOnLine struct {
	RewardID string `json:"reward_id"`
	Title    string `json:"title"`
	Price    int64  `json:"price"`
	Quantity int    `json:"quantity"`
}

// Pick is a pledge's choice checked against its project: the tier (nil
// for none), the add-ons priced, and whether anything ships.
type Pick struct {
	Tier   *RewardView
	AddOns []AddOnLine
	Ships  bool
	ship   []RewardView // what ships, for the fee
	qty    []int
}

// checkItems validates add-on quantities on their own: ids, 1 to
// MaxAddOnQuantity each, each add-on once.
func checkItems(f map[string]string, items []Item) {
	seen := map[string]bool{}
	for i, it := range items {
		switch {
		case it.RewardID == "" || ids.Problem(it.RewardID) != "":
			f["add_ons"] = fmt.Sprintf("item %d: a reward_id", i+1)
		case it.Quantity < 1 || it.Quantity > MaxAddOnQuantity:
			f["add_ons"] = fmt.Sprintf("item %d: a quantity from 1 to %d", i+1, MaxAddOnQuantity)
		case seen[it.RewardID]:
			f["add_ons"] = fmt.Sprintf("item %d: each add-on once, with its quantity", i+1)
		}
		seen[it.RewardID] = true
	}
	if len(items) > projectapi.MaxItems {
		f["add_ons"] = fmt.Sprintf("at most %d add-ons", projectapi.MaxItems)
	}
}

// PickRewards finds the tier and add-ons in the project: the tier must be a
// tier, each add-on an add-on, and an add-on without a tier one the
// creator sells alone.
func PickRewards(p ProjectView, tierID *string, items []Item) (Pick, error) {
	byID := map[string]RewardView{}
	for _, r := range p.Rewards {
		byID[r.ID] = r
	}
	var pick Pick
	if tierID != nil {
		r, ok := byID[*tierID]
		if !ok || r.IsAddOn() {
			return pick, errs.Fields(map[string]string{"reward_id": "no such reward tier in this project"})
		}
		pick.Tier = &r
		pick.note(r, 1)
	}
	for _, it := range items {
		r, ok := byID[it.RewardID]
		if !ok || !r.IsAddOn() {
			return pick, errs.Fields(map[string]string{"add_ons": "no such add-on in this project"})
		}
		if tierID == nil && !r.Alone {
			return pick, errs.Fields(map[string]string{"add_ons": fmt.Sprintf("%s comes only with a reward tier", r.Title)})
		}
		pick.AddOns = append(pick.AddOns, AddOnLine{RewardID: r.ID, Title: r.Title, Price: r.Price, Quantity: it.Quantity})
		pick.note(r, it.Quantity)
	}
	return pick, nil
}

func (p *Pick) note(r RewardView, qty int) {
	if r.Ships {
		p.Ships = true
		p.ship, p.qty = append(p.ship, r), append(p.qty, qty)
	}
}

// Goods is what the tier and add-ons cost, without shipping.
func (p Pick) Goods() int64 {
	var sum int64
	if p.Tier != nil {
		sum = p.Tier.Price
	}
	return sum + AddOnsTotal(p.AddOns)
}

// Shipping is the fee of what ships to region: each unit's fee for that
// region. A reward that does not ship there is a field error.
func (p Pick) Shipping(region string) (int64, error) {
	var fee int64
	for i, r := range p.ship {
		one, ok := r.Shipping.Fee(region)
		if !ok {
			return 0, errs.Fields(map[string]string{"address_id": fmt.Sprintf("%s does not ship to %s; choose another address", r.Title, region)})
		}
		fee += one * int64(p.qty[i])
	}
	return fee, nil
}

// AddOnsTotal is what a pledge's add-ons cost.
func AddOnsTotal(lines []AddOnLine) int64 {
	var sum int64
	for _, l := range lines {
		sum += l.Price * int64(l.Quantity)
	}
	return sum
}

// Items are the add-ons as the project service holds them.
func Items(lines []AddOnLine) []Item {
	out := make([]Item, len(lines))
	for i, l := range lines {
		out[i] = Item{RewardID: l.RewardID, Quantity: l.Quantity}
	}
	return out
}

// holding is what the order holds at the project service as of its
// version seq: its tier's unit and its add-ons, and while a paid pledge's
// change waits for its difference, whatever more the change needs
// (Pending), so that the change can take effect the moment it is paid and
// the pledge stays whole if it is not.
func (o *Order) holding(seq int64) projectapi.Holding {
	h := projectapi.Holding{ProjectID: o.ProjectID, AddOns: Items(o.AddOns), Seq: seq}
	if o.RewardID != nil {
		h.TierID = *o.RewardID
	}
	if o.Change != nil {
		h.Pending = morePending(units(o.RewardID, o.AddOns), units(o.Change.RewardID, o.Change.AddOns))
	}
	return h
}

// units counts a tier and add-ons per reward.
func units(tier *string, addOns []AddOnLine) map[string]int {
	u := map[string]int{}
	if tier != nil {
		u[*tier]++
	}
	for _, l := range addOns {
		u[l.RewardID] += l.Quantity
	}
	return u
}

// morePending is what next needs beyond now, in reward id order.
func morePending(now, next map[string]int) []Item {
	var out []Item
	for _, id := range slices.Sorted(maps.Keys(next)) {
		if more := next[id] - now[id]; more > 0 {
			out = append(out, Item{RewardID: id, Quantity: more})
		}
	}
	return out
}

// ShippingFee is one row of a reward's shipping table.
type ShippingFee = projectapi.ShippingFee

// AddOnsText is a pledge's add-ons for a table cell: "title ×n" joined by
// "; " ("" for none).
func AddOnsText(lines []AddOnLine) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprintf("%s ×%d", l.Title, l.Quantity)
	}
	return strings.Join(parts, "; ")
}

// Fen is an amount in fen as yuan with two decimals, for files.
func Fen(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

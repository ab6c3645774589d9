package projectapi

// Reward kinds: a tier is the one reward of a pledge; add-ons are bought
// beside it (or alone, when the creator allows), in quantities.
const (
	KindTier  = "tier"
	KindAddOn = "add_on"
)

// AnyRegion in a shipping table is every region without a row of its own.
const AnyRegion = "*"

// ShippingFee is what shipping one unit of a reward to a region costs.
type ShippingFee struct {
	Region string `json:"region"`
	Fee    int64  `json:"fee"`
}

// ShippingTable is a reward's fees by region. Empty, the reward ships
// everywhere at no charge.
type ShippingTable []ShippingFee

// Fee is the fee of one unit to region: the region's row, else the "*"
// row; false when the reward does not ship there.
func (t ShippingTable) Fee(region string) (int64, bool) {
	if len(t) == 0 {
		return 0, true
	}
	fee, found := int64(0), false
	for _, row := range t {
		switch row.Region {
		case region:
			return row.Fee, true
		case AnyRegion:
			fee, found = row.Fee, true
		}
	}
	return fee, found
}

// Item is a quantity of one reward (an add-on, or a tier's single unit).
type Item struct {
	RewardID string `json:"reward_id"`
	Quantity int    `json:"quantity"`
}

// MaxItems bounds the add-ons of one pledge.
const MaxItems = 30

// Units lists every unit a holding holds: its tier's, its add-ons and what
// a change waiting for its payment needs more.
func (h Holding) Units() []Item {
	out := make([]Item, 0, 1+len(h.AddOns)+len(h.Pending))
	if h.TierID != "" {
		out = append(out, Item{RewardID: h.TierID, Quantity: 1})
	}
	return append(append(out, h.AddOns...), h.Pending...)
}

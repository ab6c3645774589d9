package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sanshi/internal/cashier/cashierapi"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/chassis/httpclient"
	"sanshi/internal/member/memberapi"
	"sanshi/internal/order/orderapi"
	"sanshi/internal/project/projectapi"
	"time"
)

// demoProjects are the projects a new local platform starts with.
var demoProjects = []struct {
	Title, Subtitle, Category, Story string
	Goal                             int64
	Days                             int
	Tiers                            []map[string]any
}{
	{"水墨动画短片《山海》", "用水墨讲述远古神话", "animation", "## 关于项目\n\n我们是一支五人的独立动画团队，想用**传统水墨**的方式讲述《山海经》里的故事。\n\n- 时长：12 分钟\n- 预计完成：2027 年夏天",
		50_000_00, 30, []map[string]any{
			{"title": "电子感谢信", "price": 30_00, "delivery_month": "2027-06", "ships": false, "limit": nil},
			{"title": "限量原画", "description": "导演签名原画一幅", "price": 999_00, "delivery_month": "2027-08", "ships": true, "limit": 20},
		}},
	{"像素冒险游戏《归墟》", "一个关于海与记忆的像素 RPG", "games", "## 玩法\n\n探索沉没的城市，收集记忆碎片。支持 Windows / macOS / Switch。",
		200_000_00, 45, []map[string]any{
			{"title": "数字版游戏", "price": 68_00, "delivery_month": "2027-12", "ships": false, "limit": nil},
			{"title": "实体典藏版", "description": "含设定集与原声 CD", "price": 398_00, "delivery_month": "2028-02", "ships": true, "limit": 300,
				"shipping": []map[string]any{{"region": "CN", "fee": 0}, {"region": "HK", "fee": 30_00}, {"region": "MO", "fee": 30_00}, {"region": "TW", "fee": 40_00}, {"region": "*", "fee": 120_00}}},
			{"kind": "add_on", "title": "角色亚克力立牌", "price": 45_00, "delivery_month": "2028-02", "ships": true, "limit": 500,
				"shipping": []map[string]any{{"region": "CN", "fee": 5_00}, {"region": "*", "fee": 20_00}}},
			{"kind": "add_on", "alone": true, "title": "原声数字专辑", "price": 30_00, "delivery_month": "2027-12", "ships": false, "limit": nil},
		}},
	{"城市民谣专辑《街灯》", "十首写给夜归人的歌", "music", "## 专辑\n\n十首原创民谣，在老城区的录音棚里慢慢录完。",
		30_000_00, 20, []map[string]any{
			{"title": "数字专辑", "price": 25_00, "delivery_month": "2027-03", "ships": false, "limit": nil},
			{"title": "黑胶唱片", "price": 268_00, "delivery_month": "2027-05", "ships": true, "limit": 100},
		}},
	{"纪录片《手艺人》", "记录最后一代竹编匠人", "film", "## 纪录片\n\n我们花了两年跟拍浙江山村里的竹编匠人。",
		80_000_00, 60, []map[string]any{
			{"title": "片尾鸣谢", "price": 50_00, "delivery_month": "2027-09", "ships": false, "limit": nil},
		}},
}

// Client is one user of a running platform, from outside it: the services'
// typed contracts over its gateway. `sanshi admin demo` and `sanshi bench`
// act through it.
type Client struct {
	Gateway  *httpclient.Gateway
	Members  memberapi.Client
	Projects projectapi.Client
	Orders   orderapi.Client
	Cashier  cashierapi.Client
}

// NewClient calls the platform through gw (its Token is the user's session).
func NewClient(gw *httpclient.Gateway) *Client {
	return &Client{Gateway: gw, Members: memberapi.NewClient(gw), Projects: projectapi.NewClient(gw), Orders: orderapi.NewClient(gw),
		Cashier: cashierapi.NewClient(gw)}
}

func newClient(base string) *Client {
	return NewClient(&httpclient.Gateway{Base: base, HTTP: &http.Client{Timeout: 15 * time.Second}})
}

// verifiedBy has an operator verify the client's member's address (the
// demo's and smoke test's creators have no mailbox to follow a link from).
func (c *Client) verifiedBy(ctx context.Context, op *Client) error {
	var me struct{ ID string }
	if err := c.Members.Me(ctx, &me); err != nil {
		return err
	}
	return op.Members.MarkVerified(ctx, me.ID)
}

// member signs up (an existing account is fine) and logs in.
func (c *Client) member(ctx context.Context, email, password, nickname string) error {
	err := c.Members.SignUp(ctx, memberapi.SignUp{Email: email, Password: password, Nickname: nickname}, nil)
	if err != nil && errs.CodeOf(err) != errs.Duplicate {
		return err
	}
	var s struct{ Token string }
	if err := c.Members.LogIn(ctx, memberapi.Credentials{Email: email, Password: password}, &s); err != nil {
		return err
	}
	c.Gateway.Token = s.Token
	return nil
}

func secret() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Demo fills a new platform through its public API (site base URL): a
// creator with four live projects, one featured, and a few paid pledges.
// The operator's credentials approve the projects.
func Demo(ctx context.Context, base, operatorEmail, operatorPassword string) (int, error) {
	op := newClient(base)
	if err := op.member(ctx, operatorEmail, operatorPassword, "运营"); err != nil {
		return 0, fmt.Errorf("operator log-in: %w", err)
	}
	creator := newClient(base)
	if err := creator.member(ctx, "demo-creator@sanshi.local", secret(), "三拾工作室"); err != nil {
		return 0, err
	}
	if err := creator.verifiedBy(ctx, op); err != nil {
		return 0, fmt.Errorf("verify the creator's address: %w", err)
	}
	backer := newClient(base)
	if err := backer.member(ctx, "demo-backer@sanshi.local", secret(), "热心支持者"); err != nil {
		return 0, err
	}
	n := 0
	for i, dp := range demoProjects {
		var p struct{ ID string }
		if err := creator.Projects.Create(ctx, map[string]any{"title": dp.Title, "subtitle": dp.Subtitle, "category": dp.Category,
			"story": dp.Story, "goal": dp.Goal, "duration_days": dp.Days}, &p); err != nil {
			return n, err
		}
		for _, t := range dp.Tiers {
			if err := creator.Projects.AddReward(ctx, p.ID, t, nil); err != nil {
				return n, err
			}
		}
		if err := creator.Projects.UploadCover(ctx, p.ID, Cover(dp.Category, i)); err != nil {
			return n, fmt.Errorf("cover: %w", err)
		}
		if err := creator.Projects.Review(ctx, p.ID, projectapi.Submit, nil); err != nil {
			return n, err
		}
		if err := op.Projects.Review(ctx, p.ID, projectapi.Approve, nil); err != nil {
			return n, err
		}
		if i == 0 {
			if err := op.Projects.Feature(ctx, p.ID, true); err != nil {
				return n, err
			}
		}
		if err := pledgeAndPay(ctx, backer, p.ID, int64(100_00*(i+1)), fmt.Sprintf("demo-%d", i)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func pledgeAndPay(ctx context.Context, b *Client, projectID string, amount int64, key string) error {
	var o struct{ ID string }
	if err := b.Orders.Pledge(ctx, key, orderapi.PledgeInput{ProjectID: projectID, Amount: amount}, &o); err != nil {
		return err
	}
	var p struct {
		PayURL string `json:"pay_url"`
	}
	if err := b.Cashier.Pay(ctx, "pay-"+key, cashierapi.PaymentInput{OrderID: o.ID, Channel: "sandbox"}, nil, &p); err != nil {
		return err
	}
	return b.Cashier.DecideSandboxPage(ctx, p.PayURL, "pay")
}

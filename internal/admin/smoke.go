package admin

import (
	"context"
	"fmt"
	"io"
	"time"

	"sanshi/internal/project/projectapi"
)

// Smoke proves a deployed platform end to end through its site (base URL),
// as its users would: a new creator starts a project with one reward, the
// operator approves it, a new backer pledges and pays in the sandbox, and
// the order and the project's totals show the payment. Each run uses new
// accounts, so it can be repeated.
func Smoke(ctx context.Context, base, operatorEmail, operatorPassword string, out io.Writer) error {
	step := func(format string, args ...any) { fmt.Fprintf(out, "smoke: "+format+"\n", args...) }
	op := newClient(base)
	if err := op.member(ctx, operatorEmail, operatorPassword, "运营"); err != nil {
		return fmt.Errorf("operator log-in: %w", err)
	}
	run := secret()[:8]
	creator, backer := newClient(base), newClient(base)
	if err := creator.member(ctx, "smoke-creator-"+run+"@sanshi.local", secret(), "冒烟创作者"); err != nil {
		return fmt.Errorf("creator sign-up: %w", err)
	}
	if err := creator.verifiedBy(ctx, op); err != nil {
		return fmt.Errorf("verify the creator's address (is the operator one?): %w", err)
	}
	if err := backer.member(ctx, "smoke-backer-"+run+"@sanshi.local", secret(), "冒烟支持者"); err != nil {
		return fmt.Errorf("backer sign-up: %w", err)
	}
	step("signed up a creator and a backer (%s)", run)
	var p struct{ ID string }
	if err := creator.Projects.Create(ctx, map[string]any{"title": "冒烟测试 " + run, "subtitle": "部署检查", "category": "music",
		"story": "## 冒烟测试\n\n部署之后的端到端检查。", "goal": 1000_00, "duration_days": 30}, &p); err != nil {
		return fmt.Errorf("create project: %w", err)
	}
	if err := creator.Projects.AddReward(ctx, p.ID, map[string]any{"title": "感谢信", "price": 10_00,
		"delivery_month": time.Now().AddDate(0, 6, 0).Format("2006-01"), "ships": false, "limit": 100}, nil); err != nil {
		return fmt.Errorf("add reward: %w", err)
	}
	if err := creator.Projects.Review(ctx, p.ID, projectapi.Submit, nil); err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	if err := op.Projects.Review(ctx, p.ID, projectapi.Approve, nil); err != nil {
		return fmt.Errorf("approve (is %s an operator?): %w", operatorEmail, err)
	}
	step("project %s created and approved", p.ID)
	if err := pledgeAndPay(ctx, backer, p.ID, 10_00, "smoke-"+run); err != nil {
		return fmt.Errorf("pledge and pay: %w", err)
	}
	step("pledged ¥10.00 and paid in the sandbox")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var view struct {
			Pledged int64 `json:"pledged"`
			Backers int   `json:"backers"`
		}
		err := backer.Projects.Project(ctx, p.ID, &view)
		if err == nil && view.Pledged == 10_00 {
			step("the project shows ¥%.2f from %d backer(s)", float64(view.Pledged)/100, view.Backers)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the payment did not reach the project's totals within 30s (pledged %d, %v)", view.Pledged, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

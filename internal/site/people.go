package site

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"embed"
	"fmt"
	"sanshi/internal/chassis/auth"
	"sanshi/internal/chassis/errs"
	"sanshi/internal/member"
	"sanshi/internal/notify/notifyapi"
	"sanshi/internal/order"
	"strings"
)

// The pages of people's mail and messages: verifying an address,
// resetting a password, unsubscribing, notification settings, the inbox
// and private messages.

func init() { addTexts(peopleTexts) }

// peopleTexts are UI texts (the word "password"), no credentials.
var peopleTexts = map[string]map[string]string{
	"zh-CN": { // #nosec G101 -- UI texts (the word "password"), no credentials
		"verify email": "验证邮箱", "verify button": "确认验证", "verified": "邮箱已验证。", "not verified": "邮箱尚未验证",
		"verify needed": "请先验证邮箱：点击我们发到你邮箱的链接。没收到？可以重新发送。", "send again": "重新发送验证邮件",
		"flash.verification-sent": "验证邮件已发送，请查收。", "flash.verified": "邮箱已验证。", "flash.reset": "密码已重设，请用新密码登录。",
		"flash.reset-sent": "如果这个邮箱注册过账户，重设链接已经发出，30 分钟内有效。", "flash.email-change": "确认链接已发到新邮箱，点击后才会更换。",
		"flash.notifications": "通知设置已保存。", "flash.unsubscribed": "已退订这类邮件，可随时在通知设置中重新开启。", "flash.sent": "私信已发送。",
		"flash.blocked": "已屏蔽对方，对方无法再给你发私信。", "flash.reported": "已举报，运营人员会查看这段对话。",
		"link invalid": "链接无效、已使用或已过期。", "forgot password": "忘记密码？", "reset password": "重设密码", "new password": "新密码",
		"send reset link": "发送重设链接", "reset hint": "输入注册邮箱，我们会发送一个 30 分钟内有效的重设链接。",
		"unsubscribe": "退订邮件", "unsubscribe confirm": "确认退订这类邮件？站内通知不受影响。", "unsubscribe button": "确认退订",
		"notifications": "通知设置", "notification kind": "通知类型", "by mail": "邮件", "in inbox": "站内", "always sent": "必发",
		"inbox": "通知", "no notifications": "暂无通知。", "messages": "私信", "no messages": "暂无私信。", "write to creator": "私信发起人",
		"message body": "内容", "send": "发送", "block": "屏蔽对方", "report": "举报这段对话", "report reason": "举报理由",
		"you": "我", "back": "返回", "backers.one": "位支持者", "backers.many": "位支持者", "log in to comment": "登录后发表评论", "no comments": "还没有评论，来说第一句吧。",
		"pay by": "请在此前支付：", "change password": "修改密码", "current password": "当前密码", "flash.password": "密码已修改，其他设备上的登录已退出。",
		"tier limit":   "限量",
		"reward title": "回报名称", "reward price": "价格", "reward limit": "限量", "reward description": "描述", "reward delivery_month": "发货月份",
		"survey": "回报问卷", "send survey": "发送问卷", "lock date": "截止日期（北京时间，当天结束时锁定）", "question kind": "类型", "kind.choice": "单选", "kind.text": "文字", "kind.address": "收货地址",
		"options": "选项（用逗号分隔）", "survey answers": "问卷回答", "no survey": "这个项目没有发送问卷。", "answer survey": "提交回答", "survey locks": "截止：",
		"flash.survey-sent": "问卷已发送，支持者会收到通知。", "flash.survey-answered": "问卷已提交，截止前可以修改。", "kind.survey": "回报问卷",
		"default address": "默认", "make default": "设为默认", "edit address": "编辑地址",
		"csv.backers header": "订单号,支持者,回报,金额（元）,状态,支付时间（北京时间）,收件人,电话,地址,快递单号,加购,运费（元）,地区",
		"stretch goals":      "延伸目标", "stretch hint": "超过目标后继续解锁的内容；已达成的不能删除，达成时会通知支持者。", "stretch amount": "金额（元，须高于目标）",
		"reached": "已达成", "projects created": "发起项目", "projects backed": "支持项目", "created projects": "发起的项目", "faq": "常见问题", "goal label": "目标金额（元）", "move up": "上移", "move down": "下移", "question": "问题", "answer": "回答", "err.stretch amount": "请输入金额（元），须高于目标金额",
		"kind.stretch_goal_reached": "达成延伸目标",
		"err.code.unavailable":      "服务暂时不可用，请稍后再试。", "err.code.wrong_state": "当前状态下不能这样操作（例如项目已提交审核或已上线）。",
		"err.code.forbidden": "你没有权限这样操作。", "err.code.not_found": "找不到这个内容。", "err.code.conflict": "操作冲突，请刷新页面后重试。",
		"err.code.rate_limited": "操作太频繁，请稍后再试。", "err.code.invalid": "请检查填写的内容。", "err.code.too_many": "已达到上限。",
		"err.code.sold_out": "已售罄。", "err.code.duplicate": "已经存在。", "err.code.too_large": "内容太大。", "delete tier": "删除", "flash.tier-deleted": "回报档位已删除。", "conversation about": "关于项目：", "mail language": "邮件语言", "change email": "更换邮箱",
		"kind.pledge_paid": "支付凭证", "kind.refund_sent": "退款凭证", "kind.payment_failed": "支付失败", "kind.pledge_cancelled": "支持已取消",
		"kind.campaign_succeeded": "众筹成功", "kind.campaign_failed": "众筹未达成", "kind.project_approved": "项目通过审核", "kind.project_rejected": "项目被驳回",
		"kind.project_update": "项目更新", "kind.comment_reply": "评论回复", "kind.message": "私信", "kind.payout_sent": "提现已发出",
		"kind.payout_paid": "提现已到账", "kind.payout_failed": "提现失败", "unread": "未读",
	},
	"en": { // #nosec G101 -- UI texts (the word "password"), no credentials
		"verify email": "Verify your e-mail", "verify button": "Verify", "verified": "E-mail verified.", "not verified": "E-mail not verified yet",
		"verify needed": "Verify your e-mail address first: follow the link we mailed you. Nothing came? Send it again.", "send again": "Send the link again",
		"flash.verification-sent": "We sent the link again; check your mailbox.", "flash.verified": "Your e-mail address is verified.", "flash.reset": "Your password was reset; log in with the new one.",
		"flash.reset-sent": "If the address has an account, a reset link is on its way; it works for 30 minutes.", "flash.email-change": "We sent a link to the new address; it replaces the old one once you follow it.",
		"flash.notifications": "Notification settings saved.", "flash.unsubscribed": "You are unsubscribed from these mails; turn them on again in your notification settings.", "flash.sent": "Message sent.",
		"flash.blocked": "Blocked: they cannot write to you any more.", "flash.reported": "Reported: an operator will read the conversation.",
		"link invalid": "This link is not valid, was used already or has expired.", "forgot password": "Forgot your password?", "reset password": "Reset your password", "new password": "New password",
		"send reset link": "Send the reset link", "reset hint": "Enter the address you signed up with; we send a link that works for 30 minutes.",
		"unsubscribe": "Unsubscribe", "unsubscribe confirm": "Stop mails of this kind? Notifications on the site stay.", "unsubscribe button": "Unsubscribe",
		"notifications": "Notifications", "notification kind": "Kind", "by mail": "Mail", "in inbox": "Site", "always sent": "always",
		"inbox": "Notifications", "no notifications": "No notifications yet.", "messages": "Messages", "no messages": "No messages yet.", "write to creator": "Message the creator",
		"message body": "Message", "send": "Send", "block": "Block", "report": "Report this conversation", "report reason": "Reason",
		"you": "You", "back": "Back", "backers.one": "backer", "backers.many": "backers", "log in to comment": "Log in to comment", "no comments": "No comments yet; be the first.",
		"pay by": "Pay by", "change password": "Change password", "current password": "Current password", "flash.password": "Password changed; every other device was logged out.",
		"tier limit":   "Limited to",
		"reward title": "Reward name", "reward price": "Price", "reward limit": "Limit", "reward description": "Description", "reward delivery_month": "Delivery month",
		"survey": "Reward survey", "send survey": "Send the survey", "lock date": "Lock date (UTC+8, locks at the day's end)", "question kind": "Kind", "kind.choice": "Choice", "kind.text": "Text", "kind.address": "Shipping address",
		"options": "Options (separated by commas)", "survey answers": "Survey answers", "no survey": "This project sent no survey.", "answer survey": "Send the answers", "survey locks": "Locks:",
		"flash.survey-sent": "The survey was sent; backers are told.", "flash.survey-answered": "Your answers are in; you can change them until it locks.", "kind.survey": "Reward surveys",
		"default address": "Default", "make default": "Make default", "edit address": "Edit the address",
		"csv.backers header": "Pledge,Backer,Reward,Amount (CNY),Status,Paid at (UTC+8),Recipient,Phone,Address,Tracking number,Add-ons,Shipping (CNY),Region",
		"stretch goals":      "Stretch goals", "stretch hint": "What passing the goal unlocks; a reached one stays, and backers are told when one is reached.", "stretch amount": "Amount (¥, above the goal)",
		"reached": "Reached", "projects created": "Projects launched", "projects backed": "Projects backed", "created projects": "Launched projects", "faq": "FAQ", "goal label": "Goal (¥)", "move up": "Move up", "move down": "Move down", "question": "Question", "answer": "Answer", "err.stretch amount": "Enter an amount in ¥, above the goal",
		"kind.stretch_goal_reached": "Stretch goals reached",
		"err.code.unavailable":      "The service is unavailable; please try again shortly.", "err.code.wrong_state": "This cannot be done in the current state (the project may be in review or live).",
		"err.code.forbidden": "You may not do this.", "err.code.not_found": "Not found.", "err.code.conflict": "A conflict; reload the page and try again.",
		"err.code.rate_limited": "Too many requests; please try again shortly.", "err.code.invalid": "Please check what you entered.", "err.code.too_many": "A limit was reached.",
		"err.code.sold_out": "Sold out.", "err.code.duplicate": "It exists already.", "err.code.too_large": "Too large.", "delete tier": "Delete", "flash.tier-deleted": "The tier was deleted.", "conversation about": "About: ", "mail language": "Language of mail", "change email": "Change e-mail",
		"kind.pledge_paid": "Receipts", "kind.refund_sent": "Refund receipts", "kind.payment_failed": "Failed payments", "kind.pledge_cancelled": "Cancelled pledges",
		"kind.campaign_succeeded": "Funded campaigns", "kind.campaign_failed": "Unfunded campaigns", "kind.project_approved": "Project approved", "kind.project_rejected": "Project rejected",
		"kind.project_update": "Project updates", "kind.comment_reply": "Replies to comments", "kind.message": "Messages", "kind.payout_sent": "Payout sent",
		"kind.payout_paid": "Payout arrived", "kind.payout_failed": "Payout failed", "unread": "unread",
	},
}

// tokenView is the page of a mailed link (verify, reset, unsubscribe).
type tokenView struct {
	Token string
	Bad   bool
}

func (s *Site) verifyForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "verify", http.StatusOK, page{Data: tokenView{Token: r.URL.Query().Get("token")}})
}

func (s *Site) verify(w http.ResponseWriter, r *http.Request) {
	if err := s.members.ConfirmEmail(r.Context(), r.FormValue("token"), nil); err != nil {
		if errs.CodeOf(err) != errs.Invalid {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, "verify", http.StatusBadRequest, page{Data: tokenView{Bad: true}})
		return
	}
	http.Redirect(w, r, "/me?flash=verified", http.StatusSeeOther)
}

// resendVerification mails the link again (the member service limits how
// often).
func (s *Site) resendVerification(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	if err := s.members.ResendVerification(r.Context()); err != nil && errs.CodeOf(err) != errs.WrongState {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/me?flash=verification-sent", http.StatusSeeOther)
}

// needsVerified shows the "verify first" page when err is the refusal of
// an unverified member; it reports whether it did.
func (s *Site) needsVerified(w http.ResponseWriter, r *http.Request, err error) bool {
	if errs.CodeOf(err) != errs.Forbidden {
		return false
	}
	var m member.Member
	if s.members.Me(r.Context(), &m) != nil || m.EmailVerified {
		return false
	}
	s.render(w, r, "verify", http.StatusForbidden, page{Data: tokenView{}})
	return true
}

func (s *Site) forgotForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "forgot", http.StatusOK, page{})
}

func (s *Site) forgot(w http.ResponseWriter, r *http.Request) {
	if err := s.members.RequestReset(r.Context(), r.FormValue("email")); err != nil {
		if e := fieldErrors(err); errs.CodeOf(err) == errs.Invalid || errs.CodeOf(err) == errs.RateLimited {
			if errs.CodeOf(err) == errs.RateLimited {
				e = map[string]string{"email": errs.As(err).Message}
			}
			s.render(w, r, "forgot", errs.Status(errs.CodeOf(err)), page{Errors: e, Form: r.PostForm})
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/login?flash=reset-sent", http.StatusSeeOther)
}

func (s *Site) resetForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "reset", http.StatusOK, page{Data: tokenView{Token: r.URL.Query().Get("token")}})
}

func (s *Site) reset(w http.ResponseWriter, r *http.Request) {
	token := r.FormValue("token")
	err := s.members.ConfirmReset(r.Context(), token, r.FormValue("password"))
	if err != nil {
		fe := fieldErrors(err)
		if errs.CodeOf(err) != errs.Invalid {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, "reset", http.StatusBadRequest, page{Errors: fe, Data: tokenView{Token: token, Bad: fe["token"] != ""}})
		return
	}
	http.Redirect(w, r, "/login?flash=reset", http.StatusSeeOther)
}

func (s *Site) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "unsubscribe", http.StatusOK, page{Data: tokenView{Token: r.URL.Query().Get("token")}})
}

func (s *Site) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := s.notify.Unsubscribe(r.Context(), r.FormValue("token")); err != nil {
		if errs.CodeOf(err) != errs.Invalid {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, "unsubscribe", http.StatusBadRequest, page{Data: tokenView{Bad: true}})
		return
	}
	http.Redirect(w, r, "/?flash=unsubscribed", http.StatusSeeOther)
}

func (s *Site) notifications(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	prefs, err := s.notify.Preferences(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "notifications", http.StatusOK, page{Data: prefs})
}

func (s *Site) saveNotifications(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	prefs, err := s.notify.Preferences(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range prefs {
		if prefs[i].Essential {
			continue
		}
		prefs[i].Mail = r.PostForm.Get("mail."+prefs[i].Kind) == "on"
		prefs[i].Inbox = r.PostForm.Get("inbox."+prefs[i].Kind) == "on"
	}
	if _, err := s.notify.SetPreferences(r.Context(), prefs); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/me/notifications?flash=notifications", http.StatusSeeOther)
}

func (s *Site) inbox(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	in, err := s.notify.Inbox(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Unread > 0 {
		if err := s.notify.MarkRead(r.Context()); err != nil {
			s.log.Warn("mark notifications read", "error", err)
		}
	}
	s.render(w, r, "inbox", http.StatusOK, page{Data: in})
}

// conversationRow is a conversation as the list shows it.
type conversationRow struct {
	notifyapi.Conversation
	With, Project string
}

type messagesView struct {
	List []conversationRow
	C    *conversationRow
	Me   string
}

func (s *Site) messages(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	cs, err := s.notify.Conversations(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	me := auth.From(r.Context()).Member
	v := messagesView{Me: me}
	for _, c := range cs {
		v.List = append(v.List, s.conversationRow(r, c, me))
	}
	s.render(w, r, "messages", http.StatusOK, page{Data: v})
}

// conversationRow names the other side and the project.
func (s *Site) conversationRow(r *http.Request, c notifyapi.Conversation, me string) conversationRow {
	ctx := r.Context()
	other := c.CreatorID
	if me == c.CreatorID {
		other = c.BackerID
	}
	row := conversationRow{Conversation: c, With: s.creatorName(r, other)}
	var p struct{ Title string }
	if s.projects.Project(ctx, c.ProjectID, &p) == nil {
		row.Project = p.Title
	}
	return row
}

func (s *Site) conversation(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	c, err := s.notify.Conversation(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	me := auth.From(r.Context()).Member
	row := s.conversationRow(r, c, me)
	s.render(w, r, "messages", http.StatusOK, page{Data: messagesView{C: &row, Me: me}})
}

// writeToCreator starts a backer's conversation from the project page.
func (s *Site) writeToCreator(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	c, err := s.notify.Write(r.Context(), notifyapi.NewMessage{ProjectID: r.PathValue("id"), Body: r.FormValue("body")})
	if err != nil {
		s.messageFailed(w, r, err, "/projects/"+url.PathEscape(r.PathValue("id")))
		return
	}
	http.Redirect(w, r, "/me/messages/"+url.PathEscape(c.ID)+"?flash=sent", http.StatusSeeOther)
}

func (s *Site) reply(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	id := r.PathValue("id")
	if _, err := s.notify.Reply(r.Context(), id, r.FormValue("body")); err != nil {
		s.messageFailed(w, r, err, "/me/messages/"+url.PathEscape(id))
		return
	}
	http.Redirect(w, r, "/me/messages/"+url.PathEscape(id)+"?flash=sent", http.StatusSeeOther)
}

// messageFailed shows why a message was refused, with the way back.
func (s *Site) messageFailed(w http.ResponseWriter, r *http.Request, err error, back string) {
	e := errs.As(err)
	if e.Code == errs.Internal || e.Code == errs.Unavailable {
		s.fail(w, r, err)
		return
	}
	msg := e.Message
	if lang(w, r) != "en" {
		msg = map[string]string{errs.Invalid: "私信内容需为 1 至 2000 个字符。", errs.Forbidden: "对方不接收你的私信。",
			errs.RateLimited: "发送太频繁，请稍后再试。", errs.NotFound: "对话不存在。"}[e.Code]
	}
	s.render(w, r, "message", errs.Status(e.Code), page{Data: messageView{Status: errs.Status(e.Code), Message: msg, Back: back}})
}

func (s *Site) conversationAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !requireMember(w, r) {
			return
		}
		id := r.PathValue("id")
		var err error
		if action == "block" {
			err = s.notify.Block(r.Context(), id)
		} else {
			err = s.notify.Report(r.Context(), id, r.FormValue("reason"))
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/me/messages/"+url.PathEscape(id)+"?flash="+action+"ed", http.StatusSeeOther)
	}
}

// unreadCount is the bell's number: unread notifications and messages,
// asked with a short deadline so that a slow notification service never
// holds a page up (the bell shows no number then).
func (s *Site) unreadCount(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	n, err := s.notify.Unread(ctx)
	if err != nil {
		return 0
	}
	return n
}

// deleteReward removes a tier from a draft (the project service refuses it
// once the project is in review or live).
func (s *Site) deleteReward(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	id := r.PathValue("id")
	if err := s.projects.DeleteReward(r.Context(), id, r.PathValue("rid")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(id)+"/edit?flash=tier-deleted#rewards", http.StatusSeeOther)
}

// changePassword changes the member's password from /me.
func (s *Site) changePassword(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	err := s.members.ChangePassword(r.Context(), r.FormValue("current_password"), r.FormValue("new_password"))
	if err != nil {
		var m member.Member
		if errs.CodeOf(err) != errs.Invalid || s.members.Me(r.Context(), &m) != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, "me", http.StatusBadRequest, page{Errors: fieldErrors(err), Data: meView{M: m}})
		return
	}
	http.Redirect(w, r, "/me?flash=password", http.StatusSeeOther)
}

// creatorView is a creator's public page.
type creatorView struct {
	C struct {
		ID              string `json:"id"`
		Nickname        string `json:"nickname"`
		Bio             string `json:"bio"`
		AvatarURL       string `json:"avatar_url"`
		ProjectsCreated *int   `json:"projects_created"`
		ProjectsBacked  *int   `json:"projects_backed"`
	}
	List listing
}

// creatorPage shows a creator: who they are, what they launched (with its
// status) and how many projects they backed.
func (s *Site) creatorPage(w http.ResponseWriter, r *http.Request) {
	var v creatorView
	if err := s.members.Profile(r.Context(), r.PathValue("id"), &v.C); err != nil {
		s.fail(w, r, err)
		return
	}
	v.List = s.list(r, url.Values{"creator": {v.C.ID}}.Encode())
	markBacked(s.backed(r), v.List.Cards)
	s.render(w, r, "creator", http.StatusOK, page{Data: v})
}

//go:embed static/*.js
var staticFS embed.FS

// serveStatic serves one of the site's own script files (the CSP allows
// scripts from the site itself).
func serveStatic(name string) http.HandlerFunc {
	b, _ := staticFS.ReadFile("static/" + name)
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b)
	}
}

// sendSurvey sends a succeeded campaign's survey from the dashboard: up to
// three questions (a choice's options separated by commas) and a lock date.
func (s *Site) sendSurvey(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	id := r.PathValue("id")
	var qs []order.Question
	for i := 1; i <= 3; i++ {
		prompt := trim(r.FormValue(fmt.Sprintf("q%d", i)))
		if prompt == "" {
			continue
		}
		q := order.Question{Kind: r.FormValue(fmt.Sprintf("kind%d", i)), Prompt: prompt}
		for _, o := range strings.FieldsFunc(r.FormValue(fmt.Sprintf("options%d", i)), func(c rune) bool { return c == ',' || c == '，' }) {
			if o = trim(o); o != "" {
				q.Options = append(q.Options, o)
			}
		}
		qs = append(qs, q)
	}
	lock, err := time.ParseInLocation("2006-01-02", r.FormValue("lock_date"), cst)
	if err != nil {
		lock = time.Time{}
	}
	err = s.orders.SendSurvey(r.Context(), map[string]any{"project_id": id, "questions": qs, "lock_at": lock.Add(24*time.Hour - time.Second)})
	if err != nil {
		s.messageFailed(w, r, err, "/projects/"+url.PathEscape(id)+"/dashboard")
		return
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(id)+"/dashboard?flash=survey-sent#survey", http.StatusSeeOther)
}

// surveyView is a backer's survey page for one pledge.
type surveyView struct {
	O         order.Order
	Survey    order.Survey
	Addresses []member.Address
	None      bool // the campaign sent no survey
}

func (s *Site) surveyPage(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	o, err := s.loadOrder(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := surveyView{O: o}
	var sv struct {
		Survey order.Survey `json:"survey"`
	}
	if err := s.orders.Survey(r.Context(), o.ProjectID, &sv); err != nil {
		if errs.CodeOf(err) != errs.NotFound {
			s.fail(w, r, err)
			return
		}
		v.None = true
	}
	v.Survey = sv.Survey
	var l struct{ Addresses []member.Address }
	_ = s.members.MyAddresses(r.Context(), &l) // logged; the page offers none
	v.Addresses = l.Addresses
	s.render(w, r, "survey", http.StatusOK, page{Data: v})
}

func (s *Site) answerSurvey(w http.ResponseWriter, r *http.Request) {
	if !requireMember(w, r) {
		return
	}
	id := r.PathValue("id")
	var answers []string
	for i := 0; i < 10; i++ {
		if _, ok := r.PostForm[fmt.Sprintf("a%d", i)]; !ok {
			break
		}
		answers = append(answers, r.PostForm.Get(fmt.Sprintf("a%d", i)))
	}
	if err := s.orders.AnswerSurvey(r.Context(), id, map[string]any{"answers": answers, "address_id": r.FormValue("address_id")}); err != nil {
		s.messageFailed(w, r, err, "/orders/"+url.PathEscape(id)+"/survey")
		return
	}
	http.Redirect(w, r, "/me/pledges?flash=survey-answered", http.StatusSeeOther)
}

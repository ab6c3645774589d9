package site

import "net/http"

// Texts of the site, Simplified Chinese first.
var texts = map[string]map[string]string{
	"zh-CN": {
		"brand": "三拾众筹", "slogan": "再小的力量，也能掷地回响。", "home": "首页", "discover": "发现项目", "start": "发起项目",
		"login": "登录", "signup": "注册", "logout": "退出", "me": "我的", "my pledges": "我的支持", "review": "审核队列",
		"featured": "精选项目", "trending": "热门项目", "ending": "即将结束", "newest": "最新上线", "funded": "筹款最多",
		"pledged": "已筹", "goal": "目标", "backers": "支持者", "days left": "剩余", "percent": "达成",
		"search": "搜索", "all": "全部", "sort": "排序", "prev": "上一页", "next": "下一页", "no projects": "还没有项目",
		"by": "发起人", "story": "项目故事", "rewards": "回报档位", "no reward": "无偿支持", "remaining": "剩余",
		"unlimited": "不限量", "sold out": "已售罄", "choose": "选择此档", "ships": "需寄送", "delivery": "预计发货",
		"updates": "项目更新", "comments": "评论", "comment": "发表评论", "follow": "关注", "unfollow": "取消关注",
		"share": "分享链接", "succeeded": "众筹成功！", "failed": "众筹未达成目标，已全额退款。", "cancelled": "项目已取消，支持款已退回。",
		"email": "邮箱", "password": "密码", "nickname": "昵称", "bio": "简介", "save": "保存", "addresses": "收货地址",
		"recipient": "收件人", "phone": "电话", "province": "省份", "city": "城市", "district": "区县", "detail": "详细地址",
		"add": "添加", "delete": "删除", "amount": "金额（元）", "address": "收货地址", "pledge": "支持", "pay": "去支付",
		"channel": "支付方式", "result": "支付结果", "waiting": "正在等待支付结果……", "paid": "支付成功，感谢支持！",
		"payment failed": "支付未完成", "status": "状态", "cancel": "取消", "receive": "确认收货", "title": "标题",
		"subtitle": "副标题", "category": "类别", "duration": "众筹天数", "next step": "下一步", "preview": "预览",
		"submit": "提交审核", "price": "价格（元）", "limit": "限量（留空为不限）", "description": "描述",
		"delivery month": "发货月份", "dashboard": "创作者后台", "chart": "每日支持", "tiers": "各档位", "backers list": "支持者名单",
		"csv": "下载 CSV", "post update": "发布更新", "backers only": "仅支持者可见", "ship": "标记已发货", "tracking": "快递单号",
		"approve": "通过", "reject": "驳回", "reason": "理由", "feature": "设为精选", "unfeature": "取消精选",
		"not found": "页面不存在", "error": "出错了", "back home": "返回首页", "edit": "编辑", "draft": "草稿",
		"in_review": "审核中", "live": "众筹中", "rejected": "已驳回", "pending_payment": "待支付", "expired": "已过期",
		"refunding": "退款中", "refunded": "已退款", "shipped": "已发货", "received": "已收货", "creator reply": "发起人",
		"password hint": "至少 8 位", "step basics": "基本信息", "step story": "项目故事", "step rewards": "回报档位", "step submit": "确认提交",
		"locked": "仅支持者可见", "time left": "剩余时间", "ended": "已结束",
	},
	"en": {
		"brand": "Sanshi", "slogan": "Small strength, strong echo.", "home": "Home", "discover": "Discover", "start": "Start a project",
		"login": "Log in", "signup": "Sign up", "logout": "Log out", "me": "Profile", "my pledges": "My pledges", "review": "Review queue",
		"featured": "Featured", "trending": "Trending", "ending": "Ending soon", "newest": "Newest", "funded": "Most funded",
		"pledged": "pledged", "goal": "goal", "backers": "backers", "days left": "left", "percent": "funded",
		"search": "Search", "all": "All", "sort": "Sort", "prev": "Previous", "next": "Next", "no projects": "No projects yet",
		"by": "by", "story": "Story", "rewards": "Rewards", "no reward": "Pledge without a reward", "remaining": "left",
		"unlimited": "unlimited", "sold out": "Sold out", "choose": "Choose", "ships": "ships", "delivery": "Estimated delivery",
		"updates": "Updates", "comments": "Comments", "comment": "Post a comment", "follow": "Follow", "unfollow": "Unfollow",
		"share": "Share link", "succeeded": "Funded!", "failed": "This project did not reach its goal; every pledge was refunded.", "cancelled": "This project was cancelled; pledges were refunded.",
		"email": "E-mail", "password": "Password", "nickname": "Nickname", "bio": "About you", "save": "Save", "addresses": "Addresses",
		"recipient": "Recipient", "phone": "Phone", "province": "Province", "city": "City", "district": "District", "detail": "Street address",
		"add": "Add", "delete": "Delete", "amount": "Amount (¥)", "address": "Shipping address", "pledge": "Pledge", "pay": "Pay",
		"channel": "Pay with", "result": "Payment result", "waiting": "Waiting for the payment result…", "paid": "Paid. Thank you!",
		"payment failed": "Payment not completed", "status": "Status", "cancel": "Cancel", "receive": "Confirm receipt", "title": "Title",
		"subtitle": "Subtitle", "category": "Category", "duration": "Days", "next step": "Next", "preview": "Preview",
		"submit": "Submit for review", "price": "Price (¥)", "limit": "Limit (empty = unlimited)", "description": "Description",
		"delivery month": "Delivery month", "dashboard": "Dashboard", "chart": "Pledges per day", "tiers": "Tiers", "backers list": "Backers",
		"csv": "Download CSV", "post update": "Post an update", "backers only": "Backers only", "ship": "Mark shipped", "tracking": "Tracking number",
		"approve": "Approve", "reject": "Reject", "reason": "Reason", "feature": "Feature", "unfeature": "Unfeature",
		"not found": "Page not found", "error": "Something went wrong", "back home": "Back to the home page", "edit": "Edit", "draft": "Draft",
		"in_review": "In review", "live": "Live", "rejected": "Rejected", "pending_payment": "Awaiting payment", "expired": "Expired",
		"refunding": "Refunding", "refunded": "Refunded", "shipped": "Shipped", "received": "Received", "creator reply": "Creator",
		"password hint": "at least 8 characters", "step basics": "Basics", "step story": "Story", "step rewards": "Rewards", "step submit": "Submit",
		"locked": "For backers only", "time left": "Time left", "ended": "Ended",
	},
}

// lang picks the language: ?lang= (remembered), the cookie, or zh-CN.
func lang(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "zh-CN" {
		http.SetCookie(w, &http.Cookie{Name: "sanshi_lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie("sanshi_lang"); err == nil && (c.Value == "en" || c.Value == "zh-CN") {
		return c.Value
	}
	return "zh-CN"
}

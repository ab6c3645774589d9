package console

import "sanshi/internal/chassis/httpx"

// Languages of the console: Simplified Chinese by default, English on request.
var texts = map[string]map[string]string{
	"zh-CN": {
		"notify settings": "通知设置", "notify settings hint": "在这里保存的设置优先于配置中心和环境变量；清空一项即恢复使用配置中的值。每次发送都记在事件日志里。",
		"settings saved": "通知设置已保存。", "target": "通知渠道", "delivered": "已送达", "not delivered": "未送达", "secret set": "已设置（留空则不变）",
		"save": "保存", "send test": "发送测试通知", "from.console": "来自本页", "from.config": "来自配置",
		"settings.url": "请输入以 http:// 或 https:// 开头的完整地址", "settings.smtp-addr": "请输入 主机:端口，如 smtp.example.cn:587", "settings.email": "请输入有效的邮箱地址（多个用逗号分隔）",
		"target.webhook": "Webhook", "target.dingtalk": "钉钉", "target.feishu": "飞书", "target.email": "邮件",
		"console.notify.webhook-url": "Webhook 地址", "console.notify.dingtalk-url": "钉钉机器人地址", "console.notify.feishu-url": "飞书机器人地址",
		"console.notify.smtp-addr": "SMTP 服务器", "console.notify.smtp-from": "发件人", "console.notify.smtp-to": "收件人",
		"console.notify.smtp-username": "SMTP 用户名", "console.notify.smtp-password": "SMTP 密码", // #nosec G101 -- UI labels, no credentials
		"restarts": "重启次数", "last restart": "上次重启", "exit": "退出原因", "exit unknown": "原因未知",
		"title": "服务控制台", "login": "登录", "email": "邮箱", "password": "密码", "logout": "退出",
		"operators only": "仅限运营人员", "form expired": "表单已失效，请重试", "bad login": "邮箱或密码错误", "overview": "总览", "events": "事件日志",
		"service": "服务", "instance": "实例", "version": "版本", "color": "颜色", "address": "地址", "status": "状态",
		"health": "健康", "config": "配置版本", "restart": "需要重启", "all up": "全部正常", "some down": "有实例异常",
		"refreshes": "每 5 秒自动刷新", "up": "运行中", "down": "宕机", "out": "已摘除流量", "uptime": "运行时间",
		"components": "组件", "loggers": "日志级别", "logger": "日志器", "level": "级别", "set": "设置",
		"env": "配置（已脱敏）", "key": "键", "value": "值", "override": "运行时覆盖", "clear": "清除",
		"override warning": "运行时覆盖不会写入 Git：实例重启后即丢失，除非提交到配置仓库。",
		"actions":          "操作", "take out": "摘除流量", "put back": "恢复流量", "refresh config": "刷新配置",
		"logs": "实时日志", "filter": "过滤", "metrics": "请求指标", "rate": "请求/秒", "errors": "错误/秒",
		"p50": "P50", "p99": "P99", "when": "时间", "kind": "事件", "detail": "详情", "actor": "操作人",
		"mute": "静默通知 30 分钟（发布窗口）", "muted until": "通知已静默至", "drift": "与 Git 不同",
		"no instances": "注册中心里还没有实例", "gone": "已离开注册中心",
		"no instance in service": "没有在接流量的实例", "cancel": "取消",
		"take out question":     "摘除后该实例不再接收新请求（已在处理的请求会完成），可随时恢复。确定摘除吗？",
		"last instance warning": "这是该服务最后一个在接流量的实例：摘除后该服务的所有请求都会失败。", "commit rejected": "配置提交被拒绝，仍沿用上一个有效配置",
		"in service": "在接流量", "releases": "灰度发布", "weights": "流量权重", "traffic": "各颜色流量（最近 5 秒：占比 · 5xx · P99）", "release": "发布", "steps": "步骤", "decision": "最近判定",
		"running": "进行中", "released": "已全量", "rolled-back": "已回滚", "interrupted": "已中断", "no releases": "所有服务只有一个颜色在接流量",
	},
	"en": {
		"notify settings": "Notifications", "notify settings hint": "Settings saved here take precedence over the config center and the environment; clear one to use the configured value again. Every sending is in the event journal.",
		"settings saved": "Notification settings saved.", "target": "Channel", "delivered": "delivered", "not delivered": "not delivered", "secret set": "set (leave empty to keep)",
		"save": "Save", "send test": "Send a test notification", "from.console": "set here", "from.config": "from configuration",
		"settings.url": "a full address starting with http:// or https://", "settings.smtp-addr": "host:port, e.g. smtp.example.com:587", "settings.email": "valid e-mail addresses, separated by commas",
		"target.webhook": "Webhook", "target.dingtalk": "DingTalk", "target.feishu": "Feishu", "target.email": "E-mail",
		"console.notify.webhook-url": "Webhook URL", "console.notify.dingtalk-url": "DingTalk robot URL", "console.notify.feishu-url": "Feishu robot URL",
		"console.notify.smtp-addr": "SMTP server", "console.notify.smtp-from": "From", "console.notify.smtp-to": "To",
		"console.notify.smtp-username": "SMTP user", "console.notify.smtp-password": "SMTP password", // #nosec G101 -- UI labels, no credentials
		"restarts": "Restarts", "last restart": "last restart", "exit": "exit", "exit unknown": "exit unknown",
		"title": "Service console", "login": "Log in", "email": "E-mail", "password": "Password", "logout": "Log out",
		"operators only": "Operators only", "form expired": "The form expired; please try again", "bad login": "Wrong e-mail or password", "overview": "Overview", "events": "Events",
		"service": "Service", "instance": "Instance", "version": "Version", "color": "Color", "address": "Address", "status": "Status",
		"health": "Health", "config": "Config revision", "restart": "Restart needed", "all up": "All up", "some down": "Something is down",
		"refreshes": "Refreshes every 5 s", "up": "up", "down": "down", "out": "out of service", "uptime": "Uptime",
		"components": "Components", "loggers": "Log levels", "logger": "Logger", "level": "Level", "set": "Set",
		"env": "Configuration (masked)", "key": "Key", "value": "Value", "override": "Runtime override", "clear": "Clear",
		"override warning": "A runtime override is not in Git: it is lost when the instance restarts unless you commit it.",
		"actions":          "Actions", "take out": "Take out of service", "put back": "Put back in service", "refresh config": "Refresh config",
		"logs": "Live log", "filter": "Filter", "metrics": "Requests", "rate": "req/s", "errors": "errors/s",
		"p50": "p50", "p99": "p99", "when": "When", "kind": "Event", "detail": "Detail", "actor": "By",
		"mute": "Mute notifications for 30 min (deploy window)", "muted until": "Notifications muted until", "drift": "differs from Git",
		"no instances": "No instance in the registry yet", "gone": "left the registry",
		"no instance in service": "no instance in service", "cancel": "Cancel",
		"take out question":     "Once out of service the instance gets no new requests (those in flight finish); you can put it back at any time. Take it out?",
		"last instance warning": "This is the service's last instance in service: every request to the service will fail.", "commit rejected": "Config commit rejected; the last good configuration stays",
		"in service": "in service", "releases": "Gray releases", "weights": "Traffic weights", "traffic": "Per color, last 5 s (share · 5xx · p99)", "release": "Release", "steps": "Steps", "decision": "Last decision",
		"running": "running", "released": "released", "rolled-back": "rolled back", "interrupted": "interrupted", "no releases": "Every service takes traffic on one color",
	},
}

var lang = httpx.Lang

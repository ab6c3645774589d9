package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"sanshi/internal/configcenter"
	"sort"
)

// The data each console page shows: one type per page, each with the
// chrome every page's layout uses.

// chrome is what the layout needs on every page.
type chrome struct {
	Lang, Nonce, CSRF string
	Operator, Refresh bool
}

func (c *chrome) page() *chrome { return c }

// view is a page's data.
type view interface{ page() *chrome }

type loginView struct {
	chrome
	Error, Email string
}

type overviewView struct {
	chrome
	Groups     []group
	AllUp      bool
	Count      int
	MutedUntil string
	Releases   []releaseRow
	// NoInstanceInService names the services whose every instance is out.
	NoInstanceInService []string
	// Rejected is the config commit the config center refused, until a good
	// commit replaces it.
	Rejected *configcenter.Status
	// RejectedReasons are its problems in the reader's language.
	RejectedReasons []string
	// ShortCampaigns is project.min-duration while it is under an hour.
	ShortCampaigns string
}

type eventsView struct {
	chrome
	Events                   []Event
	Service, Instance, Since string
}

// healthView is an instance's /actuator/health as the page shows it.
type healthView struct {
	Status     string
	Components map[string]struct {
		Status  string
		Details map[string]any
	}
}

type instanceView struct {
	chrome
	I             InstanceState
	State, Uptime string
	Health        healthView
	Loggers       []loggerRow
	Env           []envRow
	Levels        []string
	Metrics       Metrics
	Charts        []template.HTML  // the last 15 minutes (history.go)
	Notable       []notableRequest // recent slow and failed requests, each linked to its trace
	Platform      string           // what restarts and stops it; "" for nothing the console drives
	Base, Message string
	// Error is an action's refusal; Form what was typed in its form.
	Error string
	Form  url.Values
}

// confirmView asks before an instance is taken out of service.
type confirmView struct {
	chrome
	ID, Base string
	Last     bool   // no other instance of its service would be in service
	Action   string // restart, stop or start; "" for taking it out of service
	Platform string // what runs the instance
}

// detail is one line of a health component's details, as an operator reads
// it (not Go's map syntax).
type detail struct{ Key, Value string }

// details sorts a component's details by name and writes each value
// plainly: text as it is, anything nested as JSON.
func details(d map[string]any) []detail {
	out := make([]detail, 0, len(d))
	for k, v := range d {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case bool, float64, int, int64:
			s = fmt.Sprint(x)
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		out = append(out, detail{k, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

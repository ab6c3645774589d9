package site

import (
	"html/template"
	"net/url"

	"sanshi/internal/member"
	"sanshi/internal/order"
	"sanshi/internal/project"
)

// The data each page shows (page.Data): one type per page, so that a
// template and its handler agree on names the compiler checks.

type meView struct{ M member.Member }

type addressesView struct {
	Addresses []member.Address
	Next      string
	Edit      string // the address whose fields the form edits
}

type createView struct{ Categories []project.Category }

type editView struct {
	P          project.Project
	Story      string
	Preview    template.HTML // sanitized Markdown (project.RenderMarkdown)
	Categories []project.Category
	// The values each form shows: what was typed in the form that came
	// back with an error, the saved project in the others.
	Basics, Reward url.Values
	// Extra is what was typed in the stretch goal or FAQ form.
	Extra url.Values
	// Errors by form, so that a reward's "title" error is not shown under
	// the project's title.
	Errors map[string]map[string]string
}

type reviewView struct{ Queue, Live []card }

type dashboardView struct {
	P      project.Project
	Orders []order.Order
	Names  map[string]string // backers' nicknames by member id
	Tiers  map[string]int
	Chart  template.HTML
	// Survey is the campaign's survey, once sent; Answers by order.
	Survey  *order.Survey
	Answers map[string]order.SurveyAnswer
}

type homeView struct {
	Categories                 []project.Category
	Featured, Trending, Ending []card
	Unavailable                bool // the project service did not answer
}

type discoverView struct {
	Categories       []project.Category
	List             listing
	Prev, Next       string
	HasPrev, HasNext bool
}

type projectView struct {
	P               project.Project
	Creator         string
	Updates         []project.Update
	Threads         []thread
	Names           map[string]string
	Following, Mine bool
	Backed          bool // the visitor has a paid pledge on it
	URL             string
	AddOns          []project.Reward // shown apart from the tiers
}

// thread is a comment with the replies to it.
type thread struct {
	project.Comment
	Replies []project.Comment
}

type pledgeView struct {
	P         project.Project
	Reward    *project.Reward
	AddOns    []project.Reward
	Qty       map[string]string // add-on id → the form's quantity
	Ships     bool              // the tier or an add-on ships: an address is asked
	Addresses []member.Address
	Quote     quote // for the chosen address and quantities
	Key       string
	Action    string // where the form posts: a new pledge, or a change
	Change    *order.Order
}

type payView struct {
	O        order.Order
	Title    string // the project's
	Channels []map[string]string
	// Attempt keys this rendering of the form: submitting it twice is one
	// payment, coming back after a failed one makes a new one.
	Attempt string
	// Unavailable says the cashier could not list its channels: nothing
	// can be paid now.
	Unavailable bool
}

// resultView is the result page of one payment (Payment, when known).
type resultView struct {
	O       order.Order
	Payment string
}

// myProjectsView is a creator's projects by stage.
type myProjectsView struct {
	Groups      []projectGroup
	Any         bool
	Unavailable bool
}

type projectGroup struct {
	Key      string // drafts, in_review, live, ended
	Projects []project.Project
}

type pledgesView struct {
	Orders []order.Order
	Titles map[string]string
}

type messageView struct {
	Status  int
	Message string
	Back    string // where the page's link goes (home when empty)
}

// cancelView asks before a pledge is cancelled.
type cancelView struct {
	ID     string
	Amount int64
	Paid   bool // the money is refunded; otherwise nothing was charged
}

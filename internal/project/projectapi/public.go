package projectapi

import (
	"context"
	"net/http"
	"net/url"

	"sanshi/internal/chassis/httpclient"
)

// The public routes (through the gateway, /api/v1), as calls. Answers are
// decoded into out, the caller's own view of them (nil to ignore). Bodies
// are the project service's own input types, passed as they are.

// Review actions on a project.
const (
	Submit  = "submit"
	Approve = "approve"
	Reject  = "reject"
)

// Rejection is the reviewer's reason.
type Rejection struct {
	Reason string `json:"reason"`
}

// CommentInput is a new comment (an answer when ParentID is set).
type CommentInput struct {
	Body     string `json:"body"`
	ParentID string `json:"parent_id,omitempty"`
}

// Categories lists the categories.
func (c Client) Categories(ctx context.Context, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, "/api/v1/categories", nil, out, nil)
}

// List finds projects (category, q, sort, page, status, creator, featured).
func (c Client) List(ctx context.Context, q url.Values, out any) error {
	path := "/api/v1/projects"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.c.JSON(ctx, Service, http.MethodGet, path, nil, out, nil)
}

// Project reads a project as the caller may see it.
func (c Client) Project(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/projects/{}", id), nil, out, nil)
}

// Create starts a draft (body: the project's draft fields).
func (c Client) Create(ctx context.Context, body, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, "/api/v1/projects", body, out, nil)
}

// Edit changes a draft.
func (c Client) Edit(ctx context.Context, id string, body, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPatch, httpclient.Path("/api/v1/projects/{}", id), body, out, nil)
}

// UploadCover puts a cover image (its bytes).
func (c Client) UploadCover(ctx context.Context, id string, image []byte) error {
	resp, err := c.c.Do(ctx, httpclient.Request{Service: Service, Method: http.MethodPut,
		Path: httpclient.Path("/api/v1/projects/{}/cover", id), Body: image})
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return httpclient.ReadJSONError(resp)
	}
	return httpclient.Done(resp)
}

// AddReward adds a reward tier to a draft.
func (c Client) AddReward(ctx context.Context, id string, body, out any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/projects/{}/rewards", id), body, out, nil)
}

// AddStretchGoal adds a stretch goal {amount, title, description}.
func (c Client) AddStretchGoal(ctx context.Context, id string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/projects/{}/stretch-goals", id), body, nil, nil)
}

// DeleteStretchGoal removes a stretch goal not reached yet.
func (c Client) DeleteStretchGoal(ctx context.Context, id, goalID string) error {
	return c.c.JSON(ctx, Service, http.MethodDelete, httpclient.Path("/api/v1/projects/{}/stretch-goals/{}", id, goalID), nil, nil, nil)
}

// AddQuestion adds a question and answer to the project's FAQ.
func (c Client) AddQuestion(ctx context.Context, id string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/projects/{}/faq", id), body, nil, nil)
}

// EditQuestion changes a question of the FAQ {question, answer, position}
// (what is sent changes).
func (c Client) EditQuestion(ctx context.Context, id, questionID string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPatch, httpclient.Path("/api/v1/projects/{}/faq/{}", id, questionID), body, nil, nil)
}

// DeleteQuestion removes a question of the FAQ.
func (c Client) DeleteQuestion(ctx context.Context, id, questionID string) error {
	return c.c.JSON(ctx, Service, http.MethodDelete, httpclient.Path("/api/v1/projects/{}/faq/{}", id, questionID), nil, nil, nil)
}

// EditReward changes a tier of a draft.
func (c Client) EditReward(ctx context.Context, id, rewardID string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPatch, httpclient.Path("/api/v1/projects/{}/rewards/{}", id, rewardID), body, nil, nil)
}

// DeleteReward removes a tier of a draft.
func (c Client) DeleteReward(ctx context.Context, id, rewardID string) error {
	return c.c.JSON(ctx, Service, http.MethodDelete, httpclient.Path("/api/v1/projects/{}/rewards/{}", id, rewardID), nil, nil, nil)
}

// Review submits, approves or rejects a project (body: a Rejection for
// Reject, nil otherwise).
func (c Client) Review(ctx context.Context, id, action string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/projects/{}/{}", id, action), body, nil, nil)
}

// Feature puts a project on the home page, or takes it off.
func (c Client) Feature(ctx context.Context, id string, on bool) error {
	return c.c.JSON(ctx, Service, onOff(on), httpclient.Path("/api/v1/projects/{}/featured", id), nil, nil, nil)
}

// Updates lists a project's updates.
func (c Client) Updates(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/projects/{}/updates", id), nil, out, nil)
}

// PostUpdate posts an update (body: the update's fields).
func (c Client) PostUpdate(ctx context.Context, id string, body any) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/projects/{}/updates", id), body, nil, nil)
}

// Comments lists a project's comments.
func (c Client) Comments(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/projects/{}/comments", id), nil, out, nil)
}

// Comment posts a comment.
func (c Client) Comment(ctx context.Context, id string, in CommentInput) error {
	return c.c.JSON(ctx, Service, http.MethodPost, httpclient.Path("/api/v1/projects/{}/comments", id), in, nil, nil)
}

// Following tells whether the caller follows a project.
func (c Client) Following(ctx context.Context, id string, out any) error {
	return c.c.JSON(ctx, Service, http.MethodGet, httpclient.Path("/api/v1/projects/{}/follow", id), nil, out, nil)
}

// Follow follows a project, or stops following it.
func (c Client) Follow(ctx context.Context, id string, on bool) error {
	return c.c.JSON(ctx, Service, onOff(on), httpclient.Path("/api/v1/projects/{}/follow", id), nil, nil, nil)
}

func onOff(on bool) string {
	if on {
		return http.MethodPut
	}
	return http.MethodDelete
}

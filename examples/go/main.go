// POST /provision from a Go service: an OpenIM token for one of your users (standard library only).
//
//	GATEWAY_URL=http://127.0.0.1:3000 GATEWAY_API_KEY=<key> go run . <userID> [platformID]
//
// Prints the answer as JSON. On a refusal it prints the gateway's code, message and requestId (quote the requestId
// to whoever runs the gateway) and exits 1.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProvisionAnswer is the gateway's answer (openapi/openapi.json, ProvisionResponse).
type ProvisionAnswer struct {
	UserID            string `json:"userID"`
	PlatformID        int    `json:"platformID"`
	Token             string `json:"token"`
	ExpireTimeSeconds int64  `json:"expireTimeSeconds"`
	ExpiresAt         string `json:"expiresAt"`
	Created           bool   `json:"created"`
	Reused            bool   `json:"reused"`
	APIAddr           string `json:"apiAddr,omitempty"`
	WSAddr            string `json:"wsAddr,omitempty"`
}

// GatewayError is a refusal: {statusCode, code, message, requestId}.
type GatewayError struct {
	StatusCode int    `json:"statusCode"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	RequestID  string `json:"requestId"`
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("%d %s: %s (requestId %s)", e.StatusCode, e.Code, e.Message, e.RequestID)
}

const maxRetries = 2             // 429 and 503 with Retry-After are waited out this many times
const maxRetryWait = time.Minute // a longer Retry-After is not waited out

var client = &http.Client{Timeout: 30 * time.Second}

func provision(baseURL, apiKey, userID string, platformID int) (*ProvisionAnswer, error) {
	body, _ := json.Marshal(map[string]any{"userID": userID, "platformID": platformID})
	for attempt := 0; ; attempt++ {
		request, err := http.NewRequest(http.MethodPost, strings.TrimRight(baseURL, "/")+"/provision", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		request.Header.Set("content-type", "application/json")
		request.Header.Set("x-api-key", apiKey)
		response, err := client.Do(request)
		if err != nil {
			return nil, err // no answer: the address is wrong, or the gateway is down
		}
		if response.StatusCode == http.StatusOK || response.StatusCode == http.StatusCreated {
			defer response.Body.Close()
			var answer ProvisionAnswer
			return &answer, json.NewDecoder(response.Body).Decode(&answer)
		}
		refusal := GatewayError{StatusCode: response.StatusCode, Code: "HTTP_ERROR", Message: response.Status}
		_ = json.NewDecoder(response.Body).Decode(&refusal)
		response.Body.Close()
		seconds, err := strconv.Atoi(response.Header.Get("retry-after"))
		wait := time.Duration(seconds) * time.Second
		retriable := response.StatusCode == http.StatusTooManyRequests || response.StatusCode == http.StatusServiceUnavailable
		if retriable && err == nil && wait <= maxRetryWait && attempt < maxRetries {
			time.Sleep(wait)
			continue
		}
		return nil, &refusal
	}
}

func main() {
	baseURL, apiKey := os.Getenv("GATEWAY_URL"), os.Getenv("GATEWAY_API_KEY")
	if len(os.Args) < 2 || baseURL == "" || apiKey == "" {
		fmt.Fprintln(os.Stderr, "usage: GATEWAY_URL=... GATEWAY_API_KEY=... go run . <userID> [platformID]")
		os.Exit(1)
	}
	platformID := 5 // Web
	if len(os.Args) > 2 {
		platformID, _ = strconv.Atoi(os.Args[2])
	}
	answer, err := provision(baseURL, apiKey, os.Args[1], platformID)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, _ := json.MarshalIndent(answer, "", "  ")
	fmt.Println(string(out))
}

// Package lambdacontext gives a Go handler its invocation's details, as aws-lambda-go's does.
package lambdacontext

import (
	"context"
	"os"
	"strconv"
)

// The function's configuration, read once from the environment variables Lambda sets.
var (
	LogGroupName       = os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME")
	LogStreamName      = os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME")
	FunctionName       = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	MemoryLimitInMB, _ = strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	FunctionVersion    = os.Getenv("AWS_LAMBDA_FUNCTION_VERSION")
)

// ClientApplication is the mobile application that invoked the function.
type ClientApplication struct {
	InstallationID string `json:"installation_id"`
	AppTitle       string `json:"app_title"`
	AppVersionCode string `json:"app_version_code"`
	AppPackageName string `json:"app_package_name"`
}

// ClientContext is what a mobile client sent with its invoke.
type ClientContext struct {
	Client ClientApplication
	Env    map[string]string `json:"env"`
	Custom map[string]string `json:"custom"`
}

// CognitoIdentity is the Amazon Cognito identity that invoked the function.
type CognitoIdentity struct {
	CognitoIdentityID     string
	CognitoIdentityPoolID string
}

// LambdaContext is the invocation's own details.
type LambdaContext struct {
	AwsRequestID       string
	InvokedFunctionArn string
	Identity           CognitoIdentity
	ClientContext      ClientContext
}

type key struct{}

// NewContext returns a context that carries lc.
func NewContext(parent context.Context, lc *LambdaContext) context.Context {
	return context.WithValue(parent, key{}, lc)
}

// FromContext returns the LambdaContext carried by ctx, if any.
func FromContext(ctx context.Context) (*LambdaContext, bool) {
	lc, ok := ctx.Value(key{}).(*LambdaContext)
	return lc, ok
}

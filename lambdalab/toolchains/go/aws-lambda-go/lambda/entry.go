// Package lambda runs a Go handler against the Runtime API, as aws-lambda-go's lambda.Start does:
// the handler is a func taking an optional context.Context and an optional event, returning an
// optional result and an optional error. Errors are reported with the Go type's name as
// errorType; a panic is reported with its stack, and then the process exits.
package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Handler is the low-level form: raw event bytes in, raw response bytes out.
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// Start takes a handler function and runs it for every event until the environment ends.
func Start(handler interface{}) { StartHandler(NewHandler(handler)) }

// StartWithContext is Start with a parent context for every invocation.
func StartWithContext(ctx context.Context, handler interface{}) {
	startRuntimeLoop(ctx, NewHandler(handler))
}

// StartHandler runs a Handler.
func StartHandler(handler Handler) { startRuntimeLoop(context.Background(), handler) }

var (
	contextType = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType   = reflect.TypeOf((*error)(nil)).Elem()
)

func validate(handler reflect.Type) error {
	if handler.Kind() != reflect.Func {
		return fmt.Errorf("handler kind %s is not %s", handler.Kind(), reflect.Func)
	}
	if handler.NumIn() > 2 {
		return fmt.Errorf("handlers may not take more than two arguments, but handler takes %d", handler.NumIn())
	}
	if handler.NumIn() == 2 && !handler.In(0).Implements(contextType) {
		return fmt.Errorf("handler takes two arguments, but the first is not Context. got %s", handler.In(0).Kind())
	}
	if handler.NumOut() > 2 {
		return fmt.Errorf("handler may not return more than two values")
	}
	if handler.NumOut() > 0 && !handler.Out(handler.NumOut()-1).Implements(errorType) && handler.NumOut() == 2 {
		return fmt.Errorf("handler returns two values, but the second does not implement error")
	}
	return nil
}

// NewHandler wraps a handler function, checking its shape once (a bad shape fails every invoke).
func NewHandler(handlerSymbol interface{}) Handler {
	if handlerSymbol == nil {
		return handlerFunc(func(context.Context, []byte) ([]byte, error) { return nil, fmt.Errorf("handler is nil") })
	}
	handler := reflect.ValueOf(handlerSymbol)
	handlerType := reflect.TypeOf(handlerSymbol)
	if err := validate(handlerType); err != nil {
		return handlerFunc(func(context.Context, []byte) ([]byte, error) { return nil, err })
	}
	takesContext := handlerType.NumIn() > 0 && handlerType.In(0).Implements(contextType)
	takesEvent := handlerType.NumIn() == 2 || (handlerType.NumIn() == 1 && !takesContext)
	return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		var args []reflect.Value
		if takesContext {
			args = append(args, reflect.ValueOf(ctx))
		}
		if takesEvent {
			eventType := handlerType.In(handlerType.NumIn() - 1)
			event := reflect.New(eventType)
			if err := json.Unmarshal(payload, event.Interface()); err != nil {
				return nil, err
			}
			args = append(args, event.Elem())
		}
		results := handler.Call(args)
		var err error
		if len(results) > 0 {
			if value, ok := results[len(results)-1].Interface().(error); ok && value != nil {
				err = value
			}
		}
		if err != nil {
			return nil, err
		}
		var value interface{}
		if len(results) > 1 || (len(results) == 1 && !handlerType.Out(0).Implements(errorType)) {
			value = results[0].Interface()
		}
		return json.Marshal(value)
	})
}

// --- the Runtime API loop -----------------------------------------------------------------------

type stackFrame struct {
	Path  string `json:"path"`
	Line  int32  `json:"line"`
	Label string `json:"label"`
}

type errorDocument struct {
	Message    string       `json:"errorMessage"`
	Type       string       `json:"errorType"`
	StackTrace []stackFrame `json:"stackTrace,omitempty"`
	shouldExit bool
}

func typeName(value interface{}) string {
	t := reflect.TypeOf(value)
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Ptr {
		return t.Elem().Name()
	}
	return t.Name()
}

func panicDocument(value interface{}) *errorDocument {
	frames := []stackFrame{}
	pcs := make([]uintptr, 32)
	count := runtime.Callers(4, pcs)
	iterator := runtime.CallersFrames(pcs[:count])
	for {
		frame, more := iterator.Next()
		label := frame.Function[strings.LastIndex(frame.Function, "/")+1:]
		if !strings.HasPrefix(label, "reflect.") && !strings.HasPrefix(label, "lambda.") &&
			!strings.HasPrefix(label, "runtime.") {
			frames = append(frames, stackFrame{Path: frame.File, Line: int32(frame.Line), Label: label})
		}
		if !more {
			break
		}
	}
	return &errorDocument{Message: fmt.Sprintf("%v", value), Type: typeName(value), StackTrace: frames, shouldExit: true}
}

func call(ctx context.Context, handler Handler, payload []byte) (response []byte, failure *errorDocument) {
	defer func() {
		if recovered := recover(); recovered != nil {
			failure = panicDocument(recovered)
		}
	}()
	response, err := handler.Invoke(ctx, payload)
	if err != nil {
		return nil, &errorDocument{Message: err.Error(), Type: typeName(err)}
	}
	return response, nil
}

func startRuntimeLoop(parent context.Context, handler Handler) {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	client := &http.Client{Timeout: 0}
	for {
		response, err := client.Get(base + "next")
		if err != nil {
			log.Fatalf("failed to get the next invocation: %v", err)
		}
		payload, _ := io.ReadAll(response.Body)
		response.Body.Close()
		if response.StatusCode != http.StatusOK {
			os.Exit(0)
		}
		requestID := response.Header.Get("Lambda-Runtime-Aws-Request-Id")
		deadlineMs, _ := strconv.ParseInt(response.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
		os.Setenv("_X_AMZN_TRACE_ID", response.Header.Get("Lambda-Runtime-Trace-Id"))
		lc := &lambdacontext.LambdaContext{
			AwsRequestID:       requestID,
			InvokedFunctionArn: response.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
		}
		if text := response.Header.Get("Lambda-Runtime-Cognito-Identity"); text != "" {
			_ = json.Unmarshal([]byte(text), &lc.Identity)
		}
		if text := response.Header.Get("Lambda-Runtime-Client-Context"); text != "" {
			_ = json.Unmarshal([]byte(text), &lc.ClientContext)
		}
		ctx, cancel := context.WithDeadline(parent, time.UnixMilli(deadlineMs))
		ctx = lambdacontext.NewContext(ctx, lc)
		result, failure := call(ctx, handler, payload)
		cancel()
		if failure != nil {
			body, _ := json.Marshal(failure)
			post(client, base+requestID+"/error", body, failure.Type)
			if failure.shouldExit {
				log.Fatalf("calling the handler function resulted in a panic, the process should exit")
			}
			continue
		}
		post(client, base+requestID+"/response", result, "")
	}
}

func post(client *http.Client, url string, body []byte, errorType string) {
	request, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	if errorType != "" {
		request.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	response, err := client.Do(request)
	if err != nil {
		log.Fatalf("failed to post to the Runtime API: %v", err)
	}
	io.Copy(io.Discard, response.Body)
	response.Body.Close()
}

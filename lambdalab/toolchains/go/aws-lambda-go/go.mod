// Lambda Lab's stand-in for github.com/aws/aws-lambda-go: the same package paths and names
// (lambda.Start, lambdacontext.FromContext), so a handler written against it builds unchanged
// for AWS, and builds here with no download. A function's go.mod points at it with a replace.
module github.com/aws/aws-lambda-go

go 1.18

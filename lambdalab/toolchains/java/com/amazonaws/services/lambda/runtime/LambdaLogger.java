package com.amazonaws.services.lambda.runtime;

/** Writes to the function's log stream: one log event per call, even with line breaks inside. */
public interface LambdaLogger {
    void log(String message);

    void log(byte[] message);
}

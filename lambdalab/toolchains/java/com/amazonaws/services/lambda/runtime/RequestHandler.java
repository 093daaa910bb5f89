package com.amazonaws.services.lambda.runtime;

/** A handler whose event is deserialized from JSON into I and whose result O is serialized back. */
public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}

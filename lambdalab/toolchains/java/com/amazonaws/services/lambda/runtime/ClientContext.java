package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** What a mobile client sent along with its invoke (ClientContext), when there is one. */
public interface ClientContext {
    Client getClient();

    Map<String, String> getCustom();

    Map<String, String> getEnvironment();
}

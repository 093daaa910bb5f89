package com.amazonaws.services.lambda.runtime;

import java.nio.charset.StandardCharsets;

/** The logger outside a handler (static initializers), as AWS's LambdaRuntime.getLogger() gives it. */
public final class LambdaRuntime {
    private static volatile LambdaLogger logger = new LambdaLogger() {
        @Override
        public void log(String message) {
            System.out.print(message.replace('\n', '\r') + "\n");
            System.out.flush();
        }

        @Override
        public void log(byte[] message) {
            log(new String(message, StandardCharsets.UTF_8));
        }
    };

    private LambdaRuntime() {
    }

    public static LambdaLogger getLogger() {
        return logger;
    }
}

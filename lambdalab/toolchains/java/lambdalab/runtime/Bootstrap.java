package lambdalab.runtime;

import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Java runtime: polls the Runtime API and runs the handler, as AWS's Java runtime does.
 * The handler is "package.Class::method" or "package.Class" (a RequestHandler or a
 * RequestStreamHandler); the class is constructed once, during init. Failures are reported
 * with the exception's class name as errorType and its frames as stackTrace.
 */
public final class Bootstrap {
    private static final String API = System.getenv("AWS_LAMBDA_RUNTIME_API");

    public static void main(String[] arguments) throws Exception {
        RuntimeClient client = new RuntimeClient(API);
        Handler handler;
        try {
            handler = Handler.load(System.getenv("_HANDLER"));
        } catch (Throwable error) {
            Throwable cause = unwrap(error);
            logError(cause);
            client.post("/runtime/init/error", errorDocument(cause), cause.getClass().getName());
            System.exit(1);
            return;
        }
        while (true) {
            RuntimeClient.Reply next = client.get("/runtime/invocation/next");
            if (next.status != 200) {
                System.exit(0);
            }
            String requestId = next.headers.get("lambda-runtime-aws-request-id");
            InvocationContext context = new InvocationContext(next.headers);
            byte[] response;
            try {
                response = handler.invoke(next.body, context);
            } catch (Throwable error) {
                Throwable cause = unwrap(error);
                logError(cause);
                System.out.flush();
                client.post("/runtime/invocation/" + requestId + "/error", errorDocument(cause),
                        cause.getClass().getName());
                continue;
            }
            System.out.flush();
            client.post("/runtime/invocation/" + requestId + "/response", response, null);
        }
    }

    static Throwable unwrap(Throwable error) {
        while (error instanceof InvocationTargetException && error.getCause() != null) {
            error = error.getCause();
        }
        return error;
    }

    static byte[] errorDocument(Throwable error) {
        return Json.write(errorMap(error, 0)).getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, Object> errorMap(Throwable error, int depth) {
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("errorMessage", error.getMessage() == null ? error.getClass().getName() : error.getMessage());
        document.put("errorType", error.getClass().getName());
        List<String> trace = new ArrayList<>();
        for (StackTraceElement frame : error.getStackTrace()) {
            String owner = frame.getClassName();
            if (owner.startsWith("lambdalab.runtime.") || owner.startsWith("java.lang.reflect.")
                    || owner.startsWith("jdk.internal.")) {
                continue;
            }
            trace.add(frame.toString());
        }
        document.put("stackTrace", trace);
        if (error.getCause() != null && error.getCause() != error && depth < 5) {
            document.put("cause", errorMap(error.getCause(), depth + 1));
        }
        return document;
    }

    /** Logged as AWS's Java runtime logs it: "message: type", then the stack trace, as one event. */
    static void logError(Throwable error) {
        StringBuilder text = new StringBuilder();
        text.append(error.getMessage()).append(": ").append(error.getClass().getName());
        text.append('\r').append(error);
        for (StackTraceElement frame : error.getStackTrace()) {
            text.append("\r\tat ").append(frame);
        }
        System.out.print(text + "\n");
        System.out.flush();
    }

    // --- loading and calling the handler ------------------------------------------------------

    static final class Handler {
        private final Object instance;
        private final Method method;
        private final Type inputType;
        private final boolean streaming;
        private final boolean withContext;

        private Handler(Object instance, Method method, Type inputType, boolean streaming, boolean withContext) {
            this.instance = instance;
            this.method = method;
            this.inputType = inputType;
            this.streaming = streaming;
            this.withContext = withContext;
        }

        static Handler load(String handlerName) throws Throwable {
            String className = handlerName;
            String methodName = null;
            int separator = handlerName.indexOf("::");
            if (separator >= 0) {
                className = handlerName.substring(0, separator);
                methodName = handlerName.substring(separator + 2);
            }
            Class<?> type;
            try {
                type = Class.forName(className, true, Bootstrap.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                throw new ClassNotFoundException("Class not found: " + className);
            }
            if (methodName == null) {
                if (RequestStreamHandler.class.isAssignableFrom(type)) {
                    methodName = "handleRequest";
                } else if (RequestHandler.class.isAssignableFrom(type)) {
                    methodName = "handleRequest";
                } else {
                    throw new ClassCastException("Class '" + className + "' does not implement RequestHandler "
                            + "with concrete type parameters or RequestStreamHandler");
                }
            }
            Method chosen = choose(type, methodName);
            if (chosen == null) {
                throw new NoSuchMethodException("No public method named " + methodName
                        + " with appropriate method signature found on class " + className);
            }
            Object instance = null;
            if (!Modifier.isStatic(chosen.getModifiers())) {
                instance = type.getDeclaredConstructor().newInstance();
            }
            Class<?>[] parameters = chosen.getParameterTypes();
            boolean streaming = parameters.length >= 2 && parameters[0] == InputStream.class
                    && parameters[1] == OutputStream.class;
            boolean withContext = parameters.length > 0 && parameters[parameters.length - 1] == Context.class;
            Type input = parameters.length == 0 || streaming || (parameters.length == 1 && withContext)
                    ? null : inputType(type, chosen);
            return new Handler(instance, chosen, input, streaming, withContext);
        }

        /** The method by that name taking the most parameters (event, then Context), bridges aside. */
        private static Method choose(Class<?> type, String name) {
            Method best = null;
            for (Method method : type.getMethods()) {
                if (!method.getName().equals(name) || method.isBridge() || method.getParameterCount() > 3) {
                    continue;
                }
                if (best == null || method.getParameterCount() > best.getParameterCount()) {
                    best = method;
                }
            }
            return best;
        }

        /** The event's type: RequestHandler's I where the class names it, else the parameter's type. */
        private static Type inputType(Class<?> type, Method method) {
            for (Class<?> current = type; current != null; current = current.getSuperclass()) {
                for (Type implemented : current.getGenericInterfaces()) {
                    if (implemented instanceof ParameterizedType
                            && ((ParameterizedType) implemented).getRawType() == RequestHandler.class) {
                        Type argument = ((ParameterizedType) implemented).getActualTypeArguments()[0];
                        if (argument instanceof Class || argument instanceof ParameterizedType) {
                            return argument;
                        }
                    }
                }
            }
            return method.getGenericParameterTypes()[0];
        }

        byte[] invoke(byte[] event, Context context) throws Throwable {
            if (streaming) {
                ByteArrayOutputStream output = new ByteArrayOutputStream();
                InputStream input = new ByteArrayInputStream(event);
                if (withContext) {
                    method.invoke(instance, input, output, context);
                } else {
                    method.invoke(instance, input, output);
                }
                return output.toByteArray();
            }
            Object result;
            if (inputType == null) {
                result = withContext ? method.invoke(instance, context) : method.invoke(instance);
            } else {
                Object input = Json.convert(Json.parse(new String(event, StandardCharsets.UTF_8)), inputType);
                result = withContext ? method.invoke(instance, input, context) : method.invoke(instance, input);
            }
            if (method.getReturnType() == void.class) {
                return "null".getBytes(StandardCharsets.UTF_8);
            }
            return Json.write(result).getBytes(StandardCharsets.UTF_8);
        }
    }

    // --- the context object ---------------------------------------------------------------------

    static final class InvocationContext implements Context {
        private final Map<String, String> headers;
        private final long deadline;

        InvocationContext(Map<String, String> headers) {
            this.headers = headers;
            this.deadline = Long.parseLong(headers.getOrDefault("lambda-runtime-deadline-ms", "0"));
        }

        @Override public String getAwsRequestId() { return headers.get("lambda-runtime-aws-request-id"); }
        @Override public String getLogGroupName() { return System.getenv("AWS_LAMBDA_LOG_GROUP_NAME"); }
        @Override public String getLogStreamName() { return System.getenv("AWS_LAMBDA_LOG_STREAM_NAME"); }
        @Override public String getFunctionName() { return System.getenv("AWS_LAMBDA_FUNCTION_NAME"); }
        @Override public String getFunctionVersion() { return System.getenv("AWS_LAMBDA_FUNCTION_VERSION"); }
        @Override public String getInvokedFunctionArn() { return headers.get("lambda-runtime-invoked-function-arn"); }

        @Override
        public CognitoIdentity getIdentity() {
            Map<?, ?> identity = document("lambda-runtime-cognito-identity");
            return new CognitoIdentity() {
                @Override public String getIdentityId() { return (String) identity.get("cognitoIdentityId"); }
                @Override public String getIdentityPoolId() { return (String) identity.get("cognitoIdentityPoolId"); }
            };
        }

        @Override
        @SuppressWarnings("unchecked")
        public ClientContext getClientContext() {
            if (headers.get("lambda-runtime-client-context") == null) {
                return null;
            }
            Map<?, ?> document = document("lambda-runtime-client-context");
            Map<?, ?> client = document.get("client") instanceof Map ? (Map<?, ?>) document.get("client") : Map.of();
            return new ClientContext() {
                @Override
                public com.amazonaws.services.lambda.runtime.Client getClient() {
                    return new com.amazonaws.services.lambda.runtime.Client() {
                        @Override public String getInstallationId() { return (String) client.get("installation_id"); }
                        @Override public String getAppTitle() { return (String) client.get("app_title"); }
                        @Override public String getAppVersionName() { return (String) client.get("app_version_name"); }
                        @Override public String getAppVersionCode() { return (String) client.get("app_version_code"); }
                        @Override public String getAppPackageName() { return (String) client.get("app_package_name"); }
                    };
                }

                @Override public Map<String, String> getCustom() { return (Map<String, String>) document.get("custom"); }
                @Override public Map<String, String> getEnvironment() { return (Map<String, String>) document.get("env"); }
            };
        }

        private Map<?, ?> document(String header) {
            String text = headers.get(header);
            Object parsed = text == null ? null : Json.parse(text);
            return parsed instanceof Map ? (Map<?, ?>) parsed : Map.of();
        }

        @Override
        public int getRemainingTimeInMillis() {
            return (int) Math.max(deadline - System.currentTimeMillis(), 0);
        }

        @Override
        public int getMemoryLimitInMB() {
            return Integer.parseInt(System.getenv().getOrDefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"));
        }

        @Override
        public LambdaLogger getLogger() {
            return LambdaRuntime.getLogger();
        }
    }

    // --- the Runtime API client: one keep-alive socket, plain HTTP/1.1 ----------------------------

    static final class RuntimeClient {
        static final class Reply {
            int status;
            Map<String, String> headers = new LinkedHashMap<>();
            byte[] body;
        }

        private final String host;
        private final int port;
        private final String prefix;  // a secret path where the environment has no sandbox of its own
        private Socket socket;
        private InputStream in;
        private OutputStream out;

        RuntimeClient(String address) {
            int slash = address.indexOf('/');
            String hostPort = slash < 0 ? address : address.substring(0, slash);
            this.prefix = slash < 0 ? "" : address.substring(slash);
            int colon = hostPort.lastIndexOf(':');
            this.host = hostPort.substring(0, colon);
            this.port = Integer.parseInt(hostPort.substring(colon + 1));
        }

        Reply get(String path) throws IOException {
            return send("GET", path, new byte[0], null);
        }

        Reply post(String path, byte[] body, String errorType) throws IOException {
            return send("POST", path, body, errorType);
        }

        private Reply send(String method, String path, byte[] body, String errorType) throws IOException {
            if (socket == null) {
                socket = new Socket(host, port);
                socket.setTcpNoDelay(true);
                in = new java.io.BufferedInputStream(socket.getInputStream());
                out = socket.getOutputStream();
            }
            StringBuilder head = new StringBuilder();
            head.append(method).append(' ').append(prefix).append("/2018-06-01").append(path).append(" HTTP/1.1\r\n");
            head.append("Host: ").append(host).append(':').append(port).append("\r\n");
            head.append("Content-Length: ").append(body.length).append("\r\n");
            if (errorType != null) {
                head.append("Lambda-Runtime-Function-Error-Type: ").append(errorType).append("\r\n");
            }
            head.append("\r\n");
            out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.write(body);
            out.flush();
            return read();
        }

        private String line() throws IOException {
            ByteArrayOutputStream buffer = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1) {
                if (c == '\n') {
                    break;
                }
                if (c != '\r') {
                    buffer.write(c);
                }
            }
            if (c == -1 && buffer.size() == 0) {
                throw new IOException("Runtime API closed the connection");
            }
            return buffer.toString(StandardCharsets.ISO_8859_1);
        }

        private Reply read() throws IOException {
            Reply reply = new Reply();
            String status = line();
            reply.status = Integer.parseInt(status.split(" ")[1]);
            for (String header = line(); !header.isEmpty(); header = line()) {
                int colon = header.indexOf(':');
                reply.headers.put(header.substring(0, colon).trim().toLowerCase(), header.substring(colon + 1).trim());
            }
            int length = Integer.parseInt(reply.headers.getOrDefault("content-length", "0"));
            reply.body = in.readNBytes(length);
            return reply;
        }
    }
}

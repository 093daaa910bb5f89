package lambdalab.runtime;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON in and out of handler types, with no library: AWS's Java runtime maps events onto POJOs
 * (setters or public fields, names matched ignoring case), Maps, Lists, Strings and numbers, and
 * serializes results back the same way (getters, public fields, record components).
 */
final class Json {
    private final String text;
    private int at;

    private Json(String text) {
        this.text = text;
    }

    static Object parse(String text) {
        Json parser = new Json(text);
        parser.skipSpace();
        if (parser.at >= text.length()) {
            return null;
        }
        Object value = parser.value();
        parser.skipSpace();
        if (parser.at != text.length()) {
            throw parser.error("trailing characters");
        }
        return value;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("Invalid JSON at offset " + at + ": " + what);
    }

    private void skipSpace() {
        while (at < text.length() && Character.isWhitespace(text.charAt(at))) {
            at++;
        }
    }

    private Object value() {
        skipSpace();
        if (at >= text.length()) {
            throw error("unexpected end");
        }
        char c = text.charAt(at);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, at)) {
            throw error("expected " + word);
        }
        at += word.length();
        return value;
    }

    private Map<String, Object> object() {
        Map<String, Object> map = new LinkedHashMap<>();
        at++;
        skipSpace();
        if (text.charAt(at) == '}') {
            at++;
            return map;
        }
        while (true) {
            skipSpace();
            String key = string();
            skipSpace();
            if (text.charAt(at++) != ':') {
                throw error("expected ':'");
            }
            map.put(key, value());
            skipSpace();
            char c = text.charAt(at++);
            if (c == '}') {
                return map;
            }
            if (c != ',') {
                throw error("expected ',' or '}'");
            }
        }
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<>();
        at++;
        skipSpace();
        if (text.charAt(at) == ']') {
            at++;
            return list;
        }
        while (true) {
            list.add(value());
            skipSpace();
            char c = text.charAt(at++);
            if (c == ']') {
                return list;
            }
            if (c != ',') {
                throw error("expected ',' or ']'");
            }
        }
    }

    private String string() {
        if (text.charAt(at) != '"') {
            throw error("expected a string");
        }
        at++;
        StringBuilder out = new StringBuilder();
        while (true) {
            char c = text.charAt(at++);
            if (c == '"') {
                return out.toString();
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char escaped = text.charAt(at++);
            switch (escaped) {
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'u':
                    out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
                    at += 4;
                    break;
                default: out.append(escaped);
            }
        }
    }

    private Object number() {
        int start = at;
        while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) {
            at++;
        }
        String literal = text.substring(start, at);
        if (literal.isEmpty()) {
            throw error("unexpected character '" + text.charAt(at) + "'");
        }
        if (literal.contains(".") || literal.contains("e") || literal.contains("E")) {
            return Double.parseDouble(literal);
        }
        BigInteger big = new BigInteger(literal);
        if (big.bitLength() < 32) {
            return big.intValue();
        }
        return big.bitLength() < 64 ? (Object) big.longValue() : big;
    }

    // --- from parsed JSON to the handler's parameter type ---------------------------------------

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Object convert(Object value, Type type) throws ReflectiveOperationException {
        Class<?> raw = rawClass(type);
        if (value == null) {
            return raw.isPrimitive() ? convert(0, type) : null;
        }
        if (raw == Object.class || raw.isInstance(value) && !(value instanceof Map) && !(value instanceof List)) {
            return value;
        }
        if (raw == String.class) {
            return value instanceof String ? value : write(value);
        }
        if (value instanceof Number) {
            Number number = (Number) value;
            if (raw == int.class || raw == Integer.class) return number.intValue();
            if (raw == long.class || raw == Long.class) return number.longValue();
            if (raw == double.class || raw == Double.class) return number.doubleValue();
            if (raw == float.class || raw == Float.class) return number.floatValue();
            if (raw == short.class || raw == Short.class) return number.shortValue();
            if (raw == byte.class || raw == Byte.class) return number.byteValue();
            if (raw == BigDecimal.class) return new BigDecimal(number.toString());
            if (raw == BigInteger.class) return new BigInteger(number.toString());
        }
        if (value instanceof String) {
            String string = (String) value;
            if (raw.isEnum()) return Enum.valueOf((Class<Enum>) raw, string);
            if (raw == int.class || raw == Integer.class) return Integer.parseInt(string);
            if (raw == long.class || raw == Long.class) return Long.parseLong(string);
            if (raw == double.class || raw == Double.class) return Double.parseDouble(string);
            if (raw == boolean.class || raw == Boolean.class) return Boolean.parseBoolean(string);
        }
        if ((raw == boolean.class || raw == Boolean.class) && value instanceof Boolean) {
            return value;
        }
        if (value instanceof Map && Map.class.isAssignableFrom(raw)) {
            Type valueType = typeArgument(type, 1);
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<String, Object> entry : ((Map<String, Object>) value).entrySet()) {
                out.put(entry.getKey(), convert(entry.getValue(), valueType));
            }
            return out;
        }
        if (value instanceof List && (Collection.class.isAssignableFrom(raw))) {
            Type itemType = typeArgument(type, 0);
            List<Object> out = new ArrayList<>();
            for (Object item : (List<Object>) value) {
                out.add(convert(item, itemType));
            }
            return out;
        }
        if (value instanceof List && raw.isArray()) {
            List<Object> items = (List<Object>) value;
            Type itemType = type instanceof GenericArrayType ? ((GenericArrayType) type).getGenericComponentType()
                    : raw.getComponentType();
            Object array = Array.newInstance(raw.getComponentType(), items.size());
            for (int i = 0; i < items.size(); i++) {
                Array.set(array, i, convert(items.get(i), itemType));
            }
            return array;
        }
        if (value instanceof Map) {
            return toObject((Map<String, Object>) value, raw);
        }
        throw new IllegalArgumentException("Cannot convert " + write(value) + " to " + raw.getName());
    }

    private static Object toObject(Map<String, Object> values, Class<?> raw) throws ReflectiveOperationException {
        if (raw.isRecord()) {
            RecordComponent[] components = raw.getRecordComponents();
            Object[] arguments = new Object[components.length];
            Class<?>[] types = new Class<?>[components.length];
            for (int i = 0; i < components.length; i++) {
                types[i] = components[i].getType();
                arguments[i] = convert(lookup(values, components[i].getName()), components[i].getGenericType());
            }
            return raw.getDeclaredConstructor(types).newInstance(arguments);
        }
        Object target = raw.getDeclaredConstructor().newInstance();
        for (Map.Entry<String, Object> entry : values.entrySet()) {
            String setterName = "set" + entry.getKey();
            Method setter = null;
            for (Method method : raw.getMethods()) {
                if (method.getParameterCount() == 1 && method.getName().equalsIgnoreCase(setterName)) {
                    setter = method;
                    break;
                }
            }
            if (setter != null) {
                setter.invoke(target, convert(entry.getValue(), setter.getGenericParameterTypes()[0]));
                continue;
            }
            for (Field field : raw.getFields()) {
                if (field.getName().equalsIgnoreCase(entry.getKey()) && !Modifier.isStatic(field.getModifiers())) {
                    field.set(target, convert(entry.getValue(), field.getGenericType()));
                    break;
                }
            }
        }
        return target;
    }

    private static Object lookup(Map<String, Object> values, String name) {
        for (Map.Entry<String, Object> entry : values.entrySet()) {
            if (entry.getKey().equalsIgnoreCase(name)) {
                return entry.getValue();
            }
        }
        return null;
    }

    static Class<?> rawClass(Type type) {
        if (type instanceof Class) return (Class<?>) type;
        if (type instanceof ParameterizedType) return (Class<?>) ((ParameterizedType) type).getRawType();
        if (type instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) type).getGenericComponentType()), 0).getClass();
        }
        return Object.class;
    }

    private static Type typeArgument(Type type, int index) {
        if (type instanceof ParameterizedType) {
            Type[] arguments = ((ParameterizedType) type).getActualTypeArguments();
            if (index < arguments.length) return arguments[index];
        }
        return Object.class;
    }

    // --- from the handler's result to JSON ------------------------------------------------------

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        try {
            write(value, out, 0);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        return out.toString();
    }

    private static void write(Object value, StringBuilder out, int depth) throws ReflectiveOperationException {
        if (depth > 200) {
            throw new IllegalStateException("result nests too deeply (a cycle?)");
        }
        if (value == null) {
            out.append("null");
        } else if (value instanceof String || value instanceof Character || value instanceof Enum) {
            quote(value.toString(), out);
        } else if (value instanceof Double || value instanceof Float) {
            double number = ((Number) value).doubleValue();
            out.append(Double.isFinite(number) ? String.valueOf(number) : "null");
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                if (!first) out.append(',');
                first = false;
                quote(String.valueOf(entry.getKey()), out);
                out.append(':');
                write(entry.getValue(), out, depth + 1);
            }
            out.append('}');
        } else if (value instanceof Iterable) {
            out.append('[');
            boolean first = true;
            for (Object item : (Iterable<?>) value) {
                if (!first) out.append(',');
                first = false;
                write(item, out, depth + 1);
            }
            out.append(']');
        } else if (value.getClass().isArray()) {
            out.append('[');
            for (int i = 0; i < Array.getLength(value); i++) {
                if (i > 0) out.append(',');
                write(Array.get(value, i), out, depth + 1);
            }
            out.append(']');
        } else {
            write(properties(value), out, depth + 1);
        }
    }

    private static Map<String, Object> properties(Object value) throws ReflectiveOperationException {
        Map<String, Object> out = new LinkedHashMap<>();
        Class<?> type = value.getClass();
        if (type.isRecord()) {
            for (RecordComponent component : type.getRecordComponents()) {
                out.put(component.getName(), component.getAccessor().invoke(value));
            }
            return out;
        }
        for (Method method : type.getMethods()) {
            String name = method.getName();
            if (method.getParameterCount() != 0 || Modifier.isStatic(method.getModifiers())
                    || method.getDeclaringClass() == Object.class) {
                continue;
            }
            String property = null;
            if (name.startsWith("get") && name.length() > 3) {
                property = name.substring(3);
            } else if (name.startsWith("is") && name.length() > 2
                    && (method.getReturnType() == boolean.class || method.getReturnType() == Boolean.class)) {
                property = name.substring(2);
            }
            if (property != null) {
                out.put(Character.toLowerCase(property.charAt(0)) + property.substring(1), method.invoke(value));
            }
        }
        for (Field field : type.getFields()) {
            if (!Modifier.isStatic(field.getModifiers()) && !out.containsKey(field.getName())) {
                out.put(field.getName(), field.get(value));
            }
        }
        return out;
    }

    static void quote(String text, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}

// The Node.js runtime: polls the Runtime API and runs the handler, as AWS's Node.js runtime
// interface client does. It is plain CommonJS with no dependencies, because it is on every
// cold start. Handler loading, the context object, console lines and error shapes follow
// AWS's client (aws-lambda-nodejs-runtime-interface-client), so what a learner sees in the
// response and the logs reads as it would on AWS.
'use strict';

const http = require('http');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

// host:port, and a secret path where the environment has no sandbox of its own.
const [HOST_PORT, ...SECRET] = process.env.AWS_LAMBDA_RUNTIME_API.split('/');
const [HOST, PORT] = HOST_PORT.split(':');
const API_PREFIX = (SECRET.length ? '/' + SECRET.join('/') : '') + '/2018-06-01';
const RUNTIME_ID = (process.env.AWS_EXECUTION_ENV || '').replace('AWS_Lambda_', '');
const CALLBACKS_REMOVED = /^nodejs(\d+)/.test(RUNTIME_ID) && Number(RUNTIME_ID.match(/^nodejs(\d+)/)[1]) >= 24;
const CALLBACK_REMOVED_MESSAGE =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24. ' +
  'You need to modify this function to use a supported handler signature to use Node.js 24 or later. ' +
  'For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// --- Runtime API client --------------------------------------------------------------------

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = http.request({
      host: HOST, port: Number(PORT), method, agent, path: API_PREFIX + urlPath,
      headers: Object.assign({ 'Content-Length': payload ? payload.length : 0 }, headers || {}),
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function postError(urlPath, error) {
  const document = toRapidResponse(error);
  return request('POST', urlPath, JSON.stringify(document),
    { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': document.errorType });
}

// --- Errors, shaped as AWS's runtime shapes them -------------------------------------------

class RuntimeError extends Error {
  constructor(name, message, stack) {
    super(message);
    // Not enumerable, as on AWS's error classes (their name lives on the prototype).
    Object.defineProperty(this, 'name', { value: name, writable: true, configurable: true });
    if (stack) this.stack = stack;
  }
}

function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || (error && typeof error.name === 'string' &&
        typeof error.message === 'string' && typeof error.stack === 'string')) {
      return { errorType: error.name, errorMessage: error.message, trace: error.stack.split('\n') };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function intoError(error) {
  return error instanceof Error ? error : new Error(error);
}

function toFormatted(error) {
  const withProperties = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const document = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
    if (typeof value.stack === 'string') document.stack = value.stack.split('\n');
    return document;
  };
  try {
    return '\t' + JSON.stringify(error, withProperties);
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// --- console: one log event per call, with the time, the request id and the level ----------

let currentRequestId;

function patchConsole() {
  const write = (level) => (message, ...params) => {
    const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(message, ...params)}`;
    process.stdout.write(line.replace(/\n/g, '\r') + '\n');
  };
  console.trace = write('TRACE');
  console.debug = write('DEBUG');
  console.info = write('INFO');
  console.log = console.info;
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.fatal = write('FATAL');
}

function logError(title, error) {
  console.error(title, toFormatted(intoError(error)));
}

// --- Loading the handler -------------------------------------------------------------------

function cannotFindModule(moduleName) {
  return new RuntimeError('Runtime.ImportModuleError',
    `Error: Cannot find module '${moduleName}'\nRequire stack:\n- ${__filename}`);
}

async function loadHandler(appRoot, handlerString) {
  if (handlerString.includes('..')) {
    throw new RuntimeError('Runtime.MalformedHandlerName',
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const base = path.basename(handlerString);
  const moduleRoot = handlerString.substring(0, handlerString.indexOf(base)).replace(/\/$/, '');
  const match = base.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  const [, moduleName, handlerName] = match;
  const withoutExtension = path.resolve(appRoot, moduleRoot, moduleName);
  let module;
  try {
    for (const extension of ['', '.js', '.mjs', '.cjs']) {
      const file = withoutExtension + extension;
      if (fs.existsSync(file) && fs.statSync(file).isFile()) {
        module = await import(pathToFileURL(file).href);
        break;
      }
    }
    if (module === undefined) {
      // A package directory or a module from node_modules, found as require() finds it.
      try {
        module = require(require.resolve(moduleName, { paths: [appRoot, path.join(appRoot, moduleRoot)] }));
      } catch (error) {
        if (error && error.code === 'MODULE_NOT_FOUND') throw cannotFindModule(moduleName);
        throw error;
      }
    }
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    if (error instanceof SyntaxError) throw new RuntimeError('Runtime.UserCodeSyntaxError', String(error), error.stack);
    if (error && (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND')) {
      throw new RuntimeError('Runtime.ImportModuleError', String(error));
    }
    throw error;
  }
  const find = (root) => handlerName.split('.').reduce(
    (nested, key) => (nested && (typeof nested === 'object' || typeof nested === 'function') ? nested[key] : undefined), root);
  let handler = find(module);
  if (!handler && module && typeof module === 'object' && 'default' in module) handler = find(module.default);
  if (!handler) throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is undefined or not exported`);
  if (typeof handler !== 'function') throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is not a function`);
  if (CALLBACKS_REMOVED && handler.length >= 3) {
    throw new RuntimeError('Runtime.CallbackHandlerDeprecated', CALLBACK_REMOVED_MESSAGE);
  }
  return handler;
}

// --- What the handler sees -----------------------------------------------------------------

function buildContext(headers, callbackContext) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const parse = (text) => (text ? JSON.parse(text) : undefined);
  const context = Object.assign(callbackContext, {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parse(headers['lambda-runtime-client-context']),
    identity: parse(headers['lambda-runtime-cognito-identity']),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  });
  return context;
}

// --- The loop ------------------------------------------------------------------------------

// When the event loop empties before the handler answered (or, for a callback handler, once it
// has answered and nothing else is pending), Node emits beforeExit: that is when AWS replies.
let beforeExit = () => {};
process.on('beforeExit', () => beforeExit());

const errorCallbacks = { uncaughtException: () => process.exit(129), unhandledRejection: () => process.exit(128) };
process.on('uncaughtException', (error) => {
  console.error('Uncaught Exception', toFormatted(error));
  errorCallbacks.uncaughtException(error);
});
process.on('unhandledRejection', (reason) => {
  const error = new RuntimeError('Runtime.UnhandledPromiseRejection', String(reason));
  console.error('Unhandled Promise Rejection', toFormatted(error));
  errorCallbacks.unhandledRejection(error);
});

function serialize(result) {
  try {
    return { body: JSON.stringify(result === undefined ? null : result) };
  } catch (error) {
    return { error: new RuntimeError('Runtime.JSONStringifyError', 'Unable to stringify response body') };
  }
}

async function handleOnce(handler) {
  const next = await request('GET', '/runtime/invocation/next');
  if (next.status !== 200) process.exit(0);
  const headers = next.headers;
  const id = headers['lambda-runtime-aws-request-id'];
  currentRequestId = id;
  process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'] || '';
  errorCallbacks.uncaughtException = (error) => postError(`/runtime/invocation/${id}/error`, error).finally(() => process.exit(129));
  errorCallbacks.unhandledRejection = (error) => postError(`/runtime/invocation/${id}/error`, error).finally(() => process.exit(128));

  let finished = false;
  let waitForEmptyEventLoop = true;
  const scheduleNext = () => setImmediate(() => handleOnce(handler).catch(topLevelError));
  const complete = (result) => {
    const outcome = serialize(result);
    if (outcome.error) return fail(outcome.error);
    request('POST', `/runtime/invocation/${id}/response`, outcome.body, { 'Content-Type': 'application/json' })
      .then(scheduleNext, topLevelError);
  };
  const fail = (error) => {
    logError('Invoke Error', error);
    postError(`/runtime/invocation/${id}/error`, error).then(scheduleNext, topLevelError);
  };
  const once = (fn) => (...args) => { if (!finished) { finished = true; beforeExit = () => {}; fn(...args); } };
  const done = once((error, result) => (error !== undefined && error !== null ? fail(error) : complete(result)));
  const callback = (error, result) => {
    if (finished) return;
    if (error !== undefined && error !== null) return done(error);
    if (!waitForEmptyEventLoop) return done(null, result);
    beforeExit = () => { beforeExit = () => {}; setImmediate(() => done(null, result)); };
  };
  const callbackContext = {
    get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
    set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
    succeed: (result) => done(null, result),
    fail: (error) => done(error === undefined || error === null ? 'handled' : error, null),
    done,
  };
  const isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  beforeExit = () => {
    if (isAsync) {
      done(new RuntimeError('Runtime.NodeJsExit', 'Runtime exited without providing a reason'));
    } else {
      done(null, null);
    }
  };
  try {
    let event;
    try {
      event = JSON.parse(next.body.toString('utf8') || '{}');
    } catch (error) {
      return done(error);
    }
    const result = handler(event, buildContext(headers, callbackContext), callback);
    if (result && typeof result.then === 'function') {
      result.then((value) => done(null, value), (error) => done(error === undefined || error === null ? 'handled' : error));
    }
  } catch (error) {
    done(error);
  }
}

function topLevelError(error) {
  console.log(`Unexpected Top Level Error: ${String(error)}`);
  process.exit(1);
}

async function main() {
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT;
  let handler;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER || '');
  } catch (error) {
    console.error('Uncaught Exception', toFormatted(error));
    await postError('/runtime/init/error', error);
    process.exit(129);
  }
  await handleOnce(handler);
}

main().catch(topLevelError);

# The Ruby runtime: polls the Runtime API and runs the handler, as AWS's Ruby runtime interface
# client (aws_lambda_ric) does: the handler is FILE.METHOD or FILE.CLASS.METHOD, called with
# keyword arguments event: and context:; failures are reported as Function<ErrorClass> or
# Init<ErrorClass> with the error's message and backtrace, and logged the same way.

require 'json'
require 'net/http'

$stdout.sync = true
$stderr.sync = true

module LambdaLabRuntime
  API = "http://#{ENV.fetch('AWS_LAMBDA_RUNTIME_API')}/2018-06-01"
  ALLOWED_ERROR_CLASSES = %w[ArgumentError NoMethodError Exception StandardError NameError LoadError
                             SystemExit SystemStackError].freeze

  # One keep-alive connection to the Runtime API for the life of the environment.
  class Client
    def initialize
      uri = URI(API)
      @prefix = uri.path  # a secret path where the environment has no sandbox of its own, then /2018-06-01
      @http = Net::HTTP.new(uri.host, uri.port)
      @http.read_timeout = nil
      @http.keep_alive_timeout = 3600
      @http.start
    end

    def next_invocation
      @http.request(Net::HTTP::Get.new("#{@prefix}/runtime/invocation/next"))
    end

    def post(path, body, headers = {})
      request = Net::HTTP::Post.new("#{@prefix}#{path}", { 'Content-Type' => 'application/json' }.merge(headers))
      request.body = body
      @http.request(request)
    end
  end

  # A failure as the runtime reports it: errorType is "<phase><ErrorClass>".
  class Failure
    attr_reader :document, :header_type

    def initialize(error, phase)
      error_class = error.class.to_s
      trace = (error.backtrace_locations || []).first(100).map(&:to_s)
      # original_message: without the code excerpt Ruby's error_highlight appends to NameErrors.
      message = error.respond_to?(:original_message) ? error.original_message : error.message
      @document = { errorMessage: message, errorType: "#{phase}<#{error_class}>", stackTrace: trace }
      @header_type = ALLOWED_ERROR_CLASSES.include?(error_class) ? @document[:errorType] : "#{phase}<UserException>"
    end

    def log(title)
      puts title
      puts JSON.pretty_generate(@document)
    end
  end

  # What the handler sees as context:, with AWS's attribute names.
  class Context
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name, :function_name,
                :memory_limit_in_mb, :function_version, :identity, :client_context, :deadline_ms

    def initialize(headers)
      @deadline_ms = headers['Lambda-Runtime-Deadline-Ms'].to_i
      @aws_request_id = headers['Lambda-Runtime-Aws-Request-Id']
      @invoked_function_arn = headers['Lambda-Runtime-Invoked-Function-Arn']
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
      @identity = JSON.parse(headers['Lambda-Runtime-Cognito-Identity']) if headers['Lambda-Runtime-Cognito-Identity']
      @client_context = JSON.parse(headers['Lambda-Runtime-Client-Context']) if headers['Lambda-Runtime-Client-Context']
    end

    def get_remaining_time_in_millis
      remaining = @deadline_ms - (Time.now.to_f * 1000).to_i
      remaining.positive? ? remaining : 0
    end
  end

  # FILE.METHOD, or FILE.CLASS.METHOD (CLASS may be Module::Class; METHOD a class method).
  class Handler
    attr_reader :file_name

    def initialize(handler)
      parts = handler.split('.')
      if parts.size == 2
        @file_name, @method_name = parts
      elsif parts.size >= 3
        @file_name = parts[0]
        @class_name = parts[1..-2].join('.')
        @method_name = parts[-1]
      else
        raise ArgumentError, "Invalid handler #{parts}, must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD " \
                             'where FILENAME corresponds with an existing Ruby source file FILENAME.rb, CLASS is an ' \
                             'optional module/class namespace and METHOD is a callable method. If using CLASS, ' \
                             'METHOD must be a class-level method.'
      end
    end

    def call(event, context)
      receiver = @class_name ? Kernel.const_get(@class_name) : TOPLEVEL_BINDING.receiver
      receiver.__send__(@method_name, event: event, context: context)
    end
  end

  def self.run
    client = Client.new
    task_root = ENV.fetch('LAMBDA_TASK_ROOT')
    $LOAD_PATH.unshift(task_root) unless $LOAD_PATH.include?(task_root)
    begin
      handler = Handler.new(ENV.fetch('_HANDLER', ''))
      require handler.file_name
    rescue Exception => e # rubocop:disable Lint/RescueException -- any failure of the user's init code
      failure = Failure.new(e, 'Init')
      failure.log("Init error when loading handler #{ENV['_HANDLER']}")
      client.post('/runtime/init/error', JSON.generate(failure.document),
                  'Lambda-Runtime-Function-Error-Type' => failure.header_type)
      exit!(1)
    end
    loop { exit!(0) unless invoke_once(client, handler) }
  end

  # Runs one event; false when the process must end (a critical error, as on AWS).
  def self.invoke_once(client, handler)
    response = client.next_invocation
    return false unless response.is_a?(Net::HTTPSuccess)

    request_id = response['Lambda-Runtime-Aws-Request-Id']
    $_global_aws_request_id = request_id
    ENV['_X_AMZN_TRACE_ID'] = response['Lambda-Runtime-Trace-Id'].to_s
    begin
      event = JSON.parse(response.body.to_s.empty? ? '{}' : response.body)
      result = handler.call(event, Context.new(response))
      body = result.to_json
    rescue NoMethodError, NameError => e
      return report(client, request_id, e, 'Critical exception from handler', continue: false)
    rescue StandardError => e
      return report(client, request_id, e, 'Error raised from handler method', continue: true)
    rescue Exception => e # rubocop:disable Lint/RescueException
      return report(client, request_id, e, 'Critical exception from handler', continue: false)
    end
    client.post("/runtime/invocation/#{request_id}/response", body)
    true
  end

  def self.report(client, request_id, error, title, continue:)
    failure = Failure.new(error, 'Function')
    failure.log(title)
    client.post("/runtime/invocation/#{request_id}/error", JSON.generate(failure.document),
                'Lambda-Runtime-Function-Error-Type' => failure.header_type)
    continue
  end
end

LambdaLabRuntime.run

"""HTTP sources: function URLs and API Gateway, served on 127.0.0.1 by one local front door.

On AWS a function URL (https://<url-id>.lambda-url.<region>.on.aws/) and an API Gateway stage
(https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/) are addresses on the internet.
Here they are paths of one local HTTP server of the cloud's, started when the first URL or API
is created::

    http://127.0.0.1:<port>/<url-id>/                function URL
    http://127.0.0.1:<port>/<http-api-id>/           HTTP API, $default stage
    http://127.0.0.1:<port>/<http-api-id>/<stage>/   HTTP API, a named stage
    http://127.0.0.1:<port>/<rest-api-id>/<stage>/   REST API stage

A path, not a host name: ``*.localhost`` names do not resolve on every machine (not on this
project's CI, nor on many Binder images), and ``requests.get(url)`` must work everywhere.

The modules: ``front_door`` (the server and who answers which first path segment),
``messages`` (a request and a response, independent of the server), ``events`` (payload
formats 2.0 and 1.0), ``responses`` (a function's result as an HTTP response), ``invoking``
(running the function with Lambda's limits), ``signing`` (SigV4 for AWS_IAM), ``cors``,
``paths`` (route and resource templates), ``http_api`` and ``rest_api`` (API Gateway's two
kinds of API) and ``routes`` (the admin request that tells a notebook the front door's address,
and through which the two HTTP trigger modules of a cloud share its one front door; the
notebook side is lambdalab.client.http_addresses).
"""

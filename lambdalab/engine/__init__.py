"""The Lambda engine: runs functions in execution environments that behave like AWS's.

- service.py      from an Invoke to an environment and back, with AWS's answers and records
- validation.py   quotas checked at the API, in AWS's words
- concurrency.py  account and reserved concurrency, throttling
- pool.py         warm environments reused, cold ones started, idle ones reclaimed
- environment.py  one environment: process group, /tmp, Init and Invoke, reset
- runtime_api.py  AWS's Runtime API, which every runtime polls
- runtimes/       the launcher and the runtimes (Python's bootstrap; custom bootstraps)
- watcher.py      memory, processes and /tmp of busy environments
- output.py       what environments print, as log lines
- processes.py    starting, measuring and ending process groups
- package.py      deployment packages and layers on disk
- spec.py         a function version's configuration, frozen at invoke time
- errors.py       the shapes of AWS's function errors
"""

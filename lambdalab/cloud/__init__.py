"""The local cloud: moto's AWS on 127.0.0.1, with the Lambda engine plugged in."""
